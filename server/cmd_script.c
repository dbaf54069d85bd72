/* cmd_script.c — EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (Redis 7.0's eval.c
 * commands): their arguments and replies; the interpreter is script.c's. */
#include <string.h>

#include "cmd.h"
#include "function.h"
#include "num.h"
#include "script.h"
#include "script_int.h"

static const char unkillable[] = "-UNKILLABLE Sorry the script already executed write commands "
                                 "against the dataset. You can either wait the script "
                                 "termination or kill the server in a hard way using the "
                                 "SHUTDOWN NOSAVE command.";

/* numkeys (argv[2]) checked as Redis checks it: 0 with *n, or -1 after replying (notint:
 * FCALL's own text for a number that is not one, NULL: the usual one). */
static int numkeys_or_reply(cmd_ctx *x, const char *notint, int *n)
{
    long long numkeys;
    if (notint && !num_str2ll(x->argv[2].ptr, x->argv[2].len, &numkeys)) {
        cmd_err(x, notint);
        return -1;
    }
    if (!notint && cmd_ll_or_reply(x, &x->argv[2], &numkeys))
        return -1;
    if (numkeys > x->argc - 3) {
        cmd_err(x, "-ERR Number of keys can't be greater than number of args");
        return -1;
    }
    if (numkeys < 0) {
        cmd_err(x, "-ERR Number of keys can't be negative");
        return -1;
    }
    *n = (int)numkeys;
    return 0;
}

static void eval(cmd_ctx *x, int by_sha, int ro)
{
    int numkeys;
    if (by_sha && x->argv[1].len != 40) { /* Redis looks the name up first */
        cmd_err(x, "-NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    if (!numkeys_or_reply(x, NULL, &numkeys))
        script_run(x, by_sha, ro, numkeys);
}

void cmd_eval(cmd_ctx *x) { eval(x, 0, 0); }
void cmd_evalsha(cmd_ctx *x) { eval(x, 1, 0); }
void cmd_eval_ro(cmd_ctx *x) { eval(x, 0, 1); }
void cmd_evalsha_ro(cmd_ctx *x) { eval(x, 1, 1); }

/* SCRIPT KILL (kind 1) and FUNCTION KILL (2), Redis's answers: the other kind's running
 * gets that kind's BUSY. */
static void kill(cmd_ctx *x, int kind)
{
    int rc = script_kill_kind(kind);
    if (rc == SCRIPT_NOTBUSY)
        cmd_err(x, "-NOTBUSY No scripts in execution right now.");
    else if (rc == SCRIPT_WRONGKIND)
        cmd_err(x, script_busy_error());
    else if (rc == SCRIPT_UNKILLABLE)
        cmd_err(x, unkillable);
    else
        cmd_ok(x);
}

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
        kill(x, 1);
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

static void fcall(cmd_ctx *x, int ro)
{
    int numkeys;
    if (!function_exists(&x->argv[1])) { /* Redis looks the function up first */
        cmd_err(x, "-ERR Function not found");
        return;
    }
    if (!numkeys_or_reply(x, "-ERR Bad number of keys provided", &numkeys))
        function_call(x, ro, numkeys);
}

void cmd_fcall(cmd_ctx *x) { fcall(x, 0); }
void cmd_fcall_ro(cmd_ctx *x) { fcall(x, 1); }

static const char *const function_help[] = {
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME "
    "argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    NULL,
};

/* FUNCTION's subcommands (routed here by the table, arity checked): those that read or
 * change the libraries in the writer; STATS, KILL and HELP on the client's thread. */
void cmd_function(cmd_ctx *x)
{
    const resp_arg *sub = &x->argv[1];
    if (cmd_is(sub, "load")) {
        function_load(x);
    } else if (cmd_is(sub, "delete")) {
        function_delete(x);
    } else if (cmd_is(sub, "flush")) {
        function_flush(x);
    } else if (cmd_is(sub, "list")) {
        function_list(x);
    } else if (cmd_is(sub, "dump")) {
        function_dump(x);
    } else if (cmd_is(sub, "restore")) {
        function_restore(x);
    } else if (cmd_is(sub, "stats")) {
        function_stats(x->out);
    } else if (cmd_is(sub, "kill")) {
        kill(x, 2);
    } else {
        cmd_reply_help(x->out, &x->argv[0], function_help);
    }
}
