/* Crash test: a child commits writes and reports each acknowledged one through a pipe; the
 * parent kills it with SIGKILL at a random point (after a random number of acks, while it
 * keeps writing), 20 rounds on the same file. After each kill every acknowledged write
 * must be there and the file must check clean. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib_util.h"
#include "test.h"

T_MAIN_BEGIN;

#define ROUNDS 20

/* Ack record: round, sequence number, kind (0 put, 1 batch of 10, 2 put with TTL, 3 delete). */
struct ack {
    int round, seq, kind;
};

static void child_main(const char *path, int round, int wfd)
{
    ox_store *s;
    if (ox_store_open(path, NULL, &s))
        _exit(2);
    ox_table *t = ox_store_table(s);
    char k[48], v[128];
    for (int seq = 0;; seq++) {
        struct ack a = {round, seq, seq % 4};
        size_t kl = U_KEY(k, "r%02d:%06d", round, seq);
        size_t vl = U_KEY(v, "value-%d-%d-padding-padding-padding", round, seq);
        int rc;
        if (a.kind == 1) {
            ox_val keys[10], vals[10];
            char kb[10][48];
            for (int i = 0; i < 10; i++) {
                keys[i].len = U_KEY(kb[i], "r%02d:%06d:b%d", round, seq, i);
                keys[i].data = kb[i];
                vals[i] = (ox_val){v, vl};
            }
            rc = ox_batch_write(t, 10, keys, vals);
        } else if (a.kind == 2) {
            rc = ox_put_with_ttl(t, k, kl, v, vl, 3600 * 1000);
        } else if (a.kind == 3) { /* delete the put of seq - 3 (kind 0) */
            kl = U_KEY(k, "r%02d:%06d", round, seq - 3);
            rc = ox_delete(t, k, kl);
        } else {
            rc = ox_put(t, k, kl, v, vl);
        }
        if (rc)
            _exit(3);
        if (write(wfd, &a, sizeof a) != (ssize_t)sizeof a)
            _exit(4);
    }
}

/* Verifies round r's acknowledged writes 0..acked-1 are all there. */
static int verify_round(ox_table *t, int r, int acked, char *why, size_t whylen)
{
    char k[48], v[128];
    for (int seq = 0; seq < acked; seq++) {
        size_t kl = U_KEY(k, "r%02d:%06d", r, seq);
        size_t vl = U_KEY(v, "value-%d-%d-padding-padding-padding", r, seq);
        /* The op after the last acknowledged one was in flight when the kill came: it may
         * or may not have been applied. Only a delete can tell (of seq acked - 3). */
        int kind = seq % 4, deleted = kind == 0 && seq + 3 < acked;
        int unsure = kind == 0 && seq + 3 == acked;
        void *got;
        size_t n;
        if (kind == 1) {
            for (int i = 0; i < 10; i++) {
                kl = U_KEY(k, "r%02d:%06d:b%d", r, seq, i);
                if (ox_contains(t, k, kl) != OX_OK) {
                    snprintf(why, whylen, "batch key %s lost", k);
                    return -1;
                }
            }
            continue;
        }
        if (kind == 3)
            continue;
        int rc = ox_get(t, k, kl, &got, &n);
        if (unsure && rc == OX_NOTFOUND)
            continue;
        if (deleted) {
            if (rc != OX_NOTFOUND) {
                free(got);
                snprintf(why, whylen, "deleted key %s is back", k);
                return -1;
            }
            continue;
        }
        if (rc != OX_OK || n != vl || memcmp(got, v, vl)) {
            free(got);
            snprintf(why, whylen, "key %s lost (rc %d)", k, rc);
            return -1;
        }
        free(got);
        if (kind == 2) {
            uint64_t ms;
            if (ox_ttl(t, k, kl, &ms) != OX_OK || ms > 3600 * 1000) {
                snprintf(why, whylen, "ttl of %s lost", k);
                return -1;
            }
        }
    }
    return 0;
}

static void acknowledged_writes_survive_sigkill(void)
{
    const char *path = u_path("crash.mdb");
    int acked[ROUNDS];
    unsigned seed = 12345;
    for (int r = 0; r < ROUNDS; r++) {
        int fds[2];
        T_EQ_INT(pipe(fds), 0);
        pid_t pid = fork();
        T_ASSERT(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(path, r, fds[1]);
        }
        close(fds[1]);
        int kill_after = 1 + (int)(rand_r(&seed) % 400);
        struct ack a;
        acked[r] = 0;
        while (read(fds[0], &a, sizeof a) == (ssize_t)sizeof a) {
            if (a.round != r || a.seq != acked[r])
                break;
            acked[r]++;
            if (acked[r] == kill_after)
                kill(pid, SIGKILL);
        }
        close(fds[0]);
        int status;
        waitpid(pid, &status, 0);
        T_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        T_ASSERT(acked[r] >= kill_after);

        ox_check_report rep;
        int crc = ox_check(path, &rep);
        if (crc != OX_OK)
            T_FAIL("round %d: check: %s: %s", r, ox_strerror(crc), rep.problem);
        ox_store *s;
        T_EQ_INT(ox_store_open(path, NULL, &s), OX_OK);
        char why[128];
        for (int q = 0; q <= r; q++) {
            if (verify_round(ox_store_table(s), q, acked[q], why, sizeof why)) {
                ox_store_close(s);
                T_FAIL("round %d (after kill %d): %s", q, r, why);
            }
        }
        ox_store_close(s);
    }
}

int main(void)
{
    T_RUN(acknowledged_writes_survive_sigkill);
    return T_MAIN_END();
}
