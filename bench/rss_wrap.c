/* pmr-rss-wrap: run a command, then record its peak resident set size and
 * wall time. Made to sit between mpirun and an MPI program, so that every
 * rank is measured on its own:
 *
 *   mpirun -np 2 pmr-rss-wrap /tmp/run/rss pmr-wordcount ...
 *
 * writes /tmp/run/rss.<rank> holding one line
 *
 *   rank=<r> maxrss_kib=<KiB> wall_s=<seconds> cpu_s=<user+system> status=<exit status>
 *
 * The rank comes from the launcher's environment (Open MPI, PMIx, MPICH/Hydra,
 * Slurm), 0 without one. ru_maxrss of the waited-for child (getrusage
 * RUSAGE_CHILDREN, Linux reports KiB) is the kernel's own high-water mark,
 * so short peaks between samples are not missed; cpu_s (user + system time
 * of the child) is what the run cost, which contention on a shared machine
 * changes far less than the wall time. The wrapper exits with the
 * child's status (128 + signal if it was killed) and passes SIGINT/SIGTERM on.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static const char *rank_from_env(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
                                 "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return v;
    }
    return "0";
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: pmr-rss-wrap OUTPREFIX COMMAND [ARGS...]\n"
                        "writes OUTPREFIX.<rank>: rank= maxrss_kib= wall_s= cpu_s= status=\n");
        return 2;
    }
    const char *rank = rank_from_env();
    size_t n = strlen(argv[1]) + strlen(rank) + 2;
    char *outname = malloc(n);
    if (!outname)
        return 1;
    snprintf(outname, n, "%s.%s", argv[1], rank);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("pmr-rss-wrap: fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "pmr-rss-wrap: cannot run '%s': %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            perror("pmr-rss-wrap: waitpid");
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                 (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    FILE *f = fopen(outname, "w");
    if (!f || fprintf(f, "rank=%s maxrss_kib=%ld wall_s=%.6f cpu_s=%.6f status=%d\n", rank,
                      ru.ru_maxrss, wall, cpu, status) < 0 || fclose(f)) {
        fprintf(stderr, "pmr-rss-wrap: cannot write '%s': %s\n", outname, strerror(errno));
        return status ? status : 1;
    }
    free(outname);
    return status;
}
