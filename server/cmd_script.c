/* cmd_script.c — EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (Redis 7.0's eval.c
 * commands): their arguments and replies; the interpreter is script.c's. */
#include <string.h>

#include "cmd.h"
#include "script.h"

/* numkeys (argv[2]) checked as Redis checks it, then the script runs. */
static void eval(cmd_ctx *x, int by_sha, int ro)
{
    long long numkeys;
    if (cmd_ll_or_reply(x, &x->argv[2], &numkeys))
        return;
    if (numkeys > x->argc - 3) {
        cmd_err(x, "-ERR Number of keys can't be greater than number of args");
        return;
    }
    if (numkeys < 0) {
        cmd_err(x, "-ERR Number of keys can't be negative");
        return;
    }
    script_run(x, by_sha, ro, (int)numkeys);
}

void cmd_eval(cmd_ctx *x) { eval(x, 0, 0); }
void cmd_evalsha(cmd_ctx *x) { eval(x, 1, 0); }
void cmd_eval_ro(cmd_ctx *x) { eval(x, 0, 1); }
void cmd_evalsha_ro(cmd_ctx *x) { eval(x, 1, 1); }

static const char *const script_help[] = {
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    NULL,
};

/* SCRIPT's subcommands (the table routes each here, arity checked): LOAD, EXISTS and
 * FLUSH in the writer, where the cache is; KILL, HELP and DEBUG on the client's thread. */
void cmd_script(cmd_ctx *x)
{
    const resp_arg *sub = &x->argv[1];
    if (cmd_is(sub, "load")) {
        script_load(x, &x->argv[2]);
    } else if (cmd_is(sub, "exists")) {
        script_exists(x);
    } else if (cmd_is(sub, "flush")) {
        if (x->argc > 3 ||
            (x->argc == 3 && !cmd_is(&x->argv[2], "sync") && !cmd_is(&x->argv[2], "async"))) {
            cmd_err(x, "-ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            return;
        }
        script_flush();
        cmd_ok(x);
    } else if (cmd_is(sub, "kill")) {
        int rc = script_kill();
        if (rc == SCRIPT_NOTBUSY)
            cmd_err(x, "-NOTBUSY No scripts in execution right now.");
        else if (rc == SCRIPT_UNKILLABLE)
            cmd_err(x, "-UNKILLABLE Sorry the script already executed write commands against "
                    "the dataset. You can either wait the script termination or kill the "
                    "server in a hard way using the SHUTDOWN NOSAVE command.");
        else
            cmd_ok(x);
    } else if (cmd_is(sub, "debug")) {
        if (cmd_is(&x->argv[2], "no"))
            cmd_ok(x);
        else if (cmd_is(&x->argv[2], "yes") || cmd_is(&x->argv[2], "sync"))
            cmd_err(x, "-ERR The Lua debugger (SCRIPT DEBUG YES|SYNC) is not supported");
        else
            cmd_err(x, "-ERR Use SCRIPT DEBUG YES/SYNC/NO");
    } else {
        cmd_reply_help(x->out, &x->argv[0], script_help);
    }
}
