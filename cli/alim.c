/* alim.c — entry point and dispatch table of the `alim` command-line program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alim/blas.h"
#include "cli.h"
#include "elastic.h"

#define ALIM_CLI_COMMAND(name, summary)                                                             \
    int cmd_##name(int argc, char **argv);                                                          \
    extern const char cmd_##name##_help[];
#include "commands.def"
#undef ALIM_CLI_COMMAND

#define ALIM_CLI_COMMAND(name, summary) {#name, cmd_##name, summary, cmd_##name##_help},
const cli_command cli_commands[] = {
#include "commands.def"
};
#undef ALIM_CLI_COMMAND
const size_t cli_command_count = sizeof cli_commands / sizeof cli_commands[0];

#ifndef ALIM_VERSION
#define ALIM_VERSION "0.1.0"
#endif

/* Command names are written with '-' on the command line and '_' in C. */
static int same_name(const char *c_name, const char *arg)
{
    for (; *c_name && *arg; c_name++, arg++) {
        char a = *arg == '-' ? '_' : *arg;
        if (a != *c_name) return 0;
    }
    return *c_name == '\0' && *arg == '\0';
}

static const cli_command *find_command(const char *arg)
{
    for (size_t i = 0; i < cli_command_count; i++)
        if (same_name(cli_commands[i].name, arg)) return &cli_commands[i];
    return NULL;
}

static void print_display_name(FILE *fp, const char *name, int width)
{
    int n = 0;
    for (const char *c = name; *c; c++, n++) fputc(*c == '_' ? '-' : *c, fp);
    for (; n < width; n++) fputc(' ', fp);
}

static void print_usage(FILE *fp)
{
    fprintf(fp,
            "alim %s — alignment limits: how far alignment of a language model can go,\n"
            "and how fast it comes undone.\n\n"
            "usage: alim <command> [options]      (alim <command> --help for each)\n"
            "       alim help <command>\n\ncommands:\n",
            ALIM_VERSION);
    for (size_t i = 0; i < cli_command_count; i++) {
        fputs("  ", fp);
        print_display_name(fp, cli_commands[i].name, 17);
        fprintf(fp, "%s\n", cli_commands[i].summary);
    }
    fputs("\nEvery command prints a table by default and one JSON object with --json.\n"
          "Errors go to stderr as 'alim: error: <where>: <what>'; exit status 2 means bad\n"
          "input or usage, 1 a runtime failure.\n",
          fp);
}

int cli_print_help(const char *name)
{
    const cli_command *c = find_command(name);
    if (!c) return cli_error(name, "unknown command (see 'alim --help')");
    fputs(c->help, stdout);
    /* elastic's help goes on with that of each subcommand, kept beside its code */
    if (c->run == cmd_elastic) cli_elastic_print_subcommand_help();
    return CLI_EXIT_OK;
}

/* OpenBLAS picks its kernel when it is loaded, from OPENBLAS_CORETYPE or its own CPU
 * detection (which in Debian 12's 0.3.21 falls back to slow SSE3 kernels on CPUs newer
 * than it knows). If the user has not set the variable, set the kernel this CPU supports
 * and re-execute, so the fresh process loads OpenBLAS with it. ALIM_BLAS_SELECTED records
 * that alim (not the user) made the choice, for `alim info`; ALIM_NO_BLAS_SELECT=1 opts out. */
static void select_blas_kernel(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("ALIM_NO_BLAS_SELECT")) return;
    alim_cpu_features f;
    alim_cpu_detect(&f);
    const char *coretype = alim_blas_recommended_coretype(&f);
    if (!coretype) return;
    if (setenv("OPENBLAS_CORETYPE", coretype, 1) || setenv("ALIM_BLAS_SELECTED", coretype, 1)) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc?): carry on with the default kernel */
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("ALIM_BLAS_SELECTED");
}

int main(int argc, char **argv)
{
    select_blas_kernel(argv);
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("alim %s\n", ALIM_VERSION);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "help")) {
        if (argc < 3) {
            print_usage(stdout);
            return CLI_EXIT_OK;
        }
        return cli_print_help(argv[2]);
    }
    const cli_command *c = find_command(cmd);
    if (!c) return cli_error(cmd, "unknown command (see 'alim --help')");
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return cli_print_help(cmd);
    }
    return c->run(argc - 1, argv + 1);
}
