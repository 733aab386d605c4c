/*
 * feed_spool.c: the local spool pushes are written to before they are
 * answered (feeds_internal.h). Segments are files "seg-<20 digits>.jsonl" in one
 * directory; each new segment gets a number above every existing one, so
 * names sort in writing order across restarts. Lines are appended with
 * write(2) and made durable with one fsync per batch.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feeds/feeds_internal.h"
#include "runtime/ids.h"

struct intake_spool {
    char dir[RF_CFG_STR_MAX];
    int fd;
    int64_t size;
    unsigned long long seq;
};

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int intake_spool_list(const char *dir, char ***names, size_t *n) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "seg-", 4) != 0 || len < 10 ||
            strcmp(e->d_name + len - 6, ".jsonl") != 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(*names, cap * sizeof *grown);
            if (!grown) break;
            *names = grown;
        }
        char *name = strdup(e->d_name);
        if (!name) break;
        (*names)[(*n)++] = name;
    }
    closedir(d);
    if (*n) qsort(*names, *n, sizeof **names, name_cmp);
    return 0;
}

void intake_spool_list_free(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int open_segment(intake_spool_t *s, char *err, size_t errlen) {
    char **names;
    size_t n;
    unsigned long long next = (unsigned long long)rf_now_ms() * 1000ULL;
    if (intake_spool_list(s->dir, &names, &n) == 0 && n > 0) {
        unsigned long long last = strtoull(names[n - 1] + 4, NULL, 10);
        if (last >= next) next = last + 1;
    }
    intake_spool_list_free(names, n);
    if (next <= s->seq) next = s->seq + 1;
    char path[RF_CFG_STR_MAX + 64];
    snprintf(path, sizeof path, "%s/seg-%020llu.jsonl", s->dir, next);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create spool segment %s: %s", path, strerror(errno));
        return -1;
    }
    /* The new name must itself survive a crash: a segment whose directory
     * entry is not durable is not used. */
    int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        snprintf(err, errlen, "cannot make spool segment %s durable: %s", path, strerror(errno));
        if (dfd >= 0) (void)close(dfd);
        (void)close(fd);
        return -1;
    }
    (void)close(dfd);                   /* read only */
    if (s->fd >= 0) (void)close(s->fd); /* its lines were synced, or never acknowledged */
    s->fd = fd;
    s->size = 0;
    s->seq = next;
    return 0;
}

intake_spool_t *intake_spool_open(const char *dir, char *err, size_t errlen) {
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the spool directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    intake_spool_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    s->fd = -1;
    if (open_segment(s, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

int intake_spool_append(intake_spool_t *s, const char *line, size_t len) {
    char *buf = malloc(len + 1);
    if (!buf) return -1;
    memcpy(buf, line, len);
    buf[len] = '\n';
    size_t done = 0;
    while (done < len + 1) {
        ssize_t w = write(s->fd, buf + done, len + 1 - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            free(buf);
            /* A torn line would be skipped by the reader (no newline yet);
             * start afresh so the next line is whole. */
            char err[200];
            open_segment(s, err, sizeof err);
            return -1;
        }
        done += (size_t)w;
    }
    free(buf);
    s->size += (int64_t)len + 1;
    return 0;
}

int intake_spool_sync(intake_spool_t *s) {
    if (fdatasync(s->fd) != 0) return -1;
    if (s->size >= INTAKE_SPOOL_SEGMENT_BYTES) {
        char err[200];
        if (open_segment(s, err, sizeof err) != 0) return -1;
    }
    return 0;
}

void intake_spool_close(intake_spool_t **sp) {
    if (!sp || !*sp) return;
    if ((*sp)->fd >= 0) (void)close((*sp)->fd); /* acknowledged lines were synced */
    free(*sp);
    *sp = NULL;
}
