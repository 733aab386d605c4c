/*
 * rfctl.c: the operator's command-line tool. It talks to the five workers'
 * HTTP surfaces (never to a database) and prints tables for people or, with
 * --json, JSON for scripts.
 *
 *   rfctl [--json] [--token T] COMMAND ...      (rfctl help lists the commands)
 *
 * Configuration: RF_INTAKE_HTTP ... RF_NOTIFICATION_HTTP (host:port, the same
 * defaults as the workers), RF_TOKEN (bearer token; --token overrides).
 *
 * Exit codes: 0 success; 1 the operation failed (a worker refused it or did
 * not answer; for status: a worker is down); 2 usage error.
 *
 * This file: the global options, the help (from the command table,
 * rfctl_commands.c), finding the row of a command and running it, and the
 * parsing of a subcommand's options.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "rfctl_internal.h"

bool rfctl_json;
const char *rfctl_token;

/* ---- a subcommand's arguments ---- */

int rfctl_parse_args(int argc, char **argv, const char *allowed, rfctl_args *o) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            rfctl_json = true;
        } else if (strncmp(a, "--", 2) == 0) {
            const char *name = a + 2, *eq = strchr(name, '=');
            char nm[40];
            size_t nl = eq ? (size_t)(eq - name) : strlen(name);
            if (nl >= sizeof nm) return rfctl_usage_error("unknown option %s", a);
            memcpy(nm, name, nl);
            nm[nl] = '\0';
            char pat[48];
            snprintf(pat, sizeof pat, " %s ", nm);
            char all[256];
            snprintf(all, sizeof all, " %s ", allowed);
            bool token = strcmp(nm, "token") == 0;
            if (!token && !strstr(all, pat)) return rfctl_usage_error("unknown option --%s", nm);
            const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val) return rfctl_usage_error("option --%s needs a value", nm);
            if (token) {
                rfctl_token = val;
                continue;
            }
            if (o->n == 16) return rfctl_usage_error("too many options");
            snprintf(o->names[o->n], sizeof o->names[o->n], "%s", nm);
            o->values[o->n++] = val;
        } else {
            if (o->npos == 8) return rfctl_usage_error("too many arguments");
            o->pos[o->npos++] = a;
        }
    }
    return 0;
}

const char *rfctl_arg(const rfctl_args *o, const char *name) {
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->names[i], name) == 0) return o->values[i];
    return NULL;
}

long long rfctl_parse_duration(const char *s) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0) return -1;
    if (!*end || strcmp(end, "s") == 0) return v;
    if (strcmp(end, "m") == 0) return v * 60;
    if (strcmp(end, "h") == 0) return v * 3600;
    if (strcmp(end, "d") == 0) return v * 86400;
    return -1;
}

const char *rfctl_actor(const rfctl_args *o) {
    const char *by = rfctl_arg(o, "by") ? rfctl_arg(o, "by") : getenv("USER");
    return by && *by ? by : "rfctl";
}

/* ---- help ---- */

/* The column where a command's summary starts. */
#define HELP_INDENT 43

static void print_help(FILE *out) {
    fputs("usage: rfctl [--json] [--token TOKEN] COMMAND ...\n\n", out);
    for (size_t i = 0; i < rfctl_command_count; i++) {
        const rfctl_command *c = &rfctl_commands[i];
        if (!c->help) continue;
        if (!c->summary) {
            fprintf(out, "  %s\n", c->help);
            continue;
        }
        fprintf(out, "  %-*s", HELP_INDENT - 2, c->help);
        for (const char *p = c->summary; *p; p++) {
            fputc(*p, out);
            if (*p == '\n') fprintf(out, "%*s", HELP_INDENT, "");
        }
        fputc('\n', out);
    }
    fputs("\n"
          "Every command takes --json. Workers: RF_INTAKE_HTTP ... RF_NOTIFICATION_HTTP "
          "(host:port,\n"
          "default 127.0.0.1:8080 ... 8084). Token: RF_TOKEN or --token.\n"
          "Exit status: 0 done, 1 failed (refused, unreachable, a worker down), 2 usage "
          "error.\n",
          out);
}

/* ---- main ---- */

/* Runs the row of command cmd (and subcommand sub, if it has them) on the
 * arguments from argv[0] on, argv[0] being sub. */
static int run(const char *cmd, const char *sub, int argc, char **argv) {
    bool known = false;
    for (size_t i = 0; i < rfctl_command_count; i++) {
        const rfctl_command *c = &rfctl_commands[i];
        if (strcmp(c->name, cmd) != 0) continue;
        if (!c->sub) return c->run(c, argc, argv);
        known = true;
        if (strcmp(c->sub, sub) == 0) return c->run(c, argc > 0 ? argc - 1 : 0, argv + 1);
    }
    if (known) return rfctl_usage_error("%s: unknown or missing subcommand '%s'", cmd, sub);
    return rfctl_usage_error("unknown command '%s'", cmd);
}

int main(int argc, char **argv) {
    rfctl_token = getenv("RF_TOKEN");
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) rfctl_json = true;
        else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) rfctl_token = argv[++i];
        else if (strncmp(argv[i], "--token=", 8) == 0) rfctl_token = argv[i] + 8;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(stdout);
            return 0;
        } else if (argv[i][0] == '-') return rfctl_usage_error("unknown option %s", argv[i]);
        else break;
    }
    if (i >= argc) {
        print_help(stderr);
        return 2;
    }
    const char *cmd = argv[i++];
    const char *sub = i < argc ? argv[i] : "";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (strcmp(cmd, "help") == 0) {
        print_help(stdout);
        rc = 0;
    } else {
        rc = run(cmd, sub, argc - i, argv + i);
    }
    curl_global_cleanup();
    return rc;
}
