/* lock.c — one writer per directory, and per appended file (declared in alim/io.h).
 *
 * Both are flock(2) locks, which the kernel drops when the process ends however it ends: a
 * crashed run leaves nothing to clean up, and the next run takes the lock at once. */
#include "alim/io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <stdio.h>

/* ---- directory locks (see alim/io.h) ------------------------------------------------------- */

/* The directories this process holds: flock(2) locks belong to an open file description, so
 * a second open+flock of the same lock file by this process would be refused like any other
 * process's; nested acquisitions are therefore counted here instead. */
struct alim_dir_lock {
    dev_t dev;
    ino_t ino;
};
typedef struct {
    dev_t dev;
    ino_t ino;
    int fd, refs;
} held_lock;
static held_lock *held;
static size_t n_held, cap_held;
static pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;

/* 1 if the name is "NAME.tmp.PID" and PID (> 0, not this process) is not alive */
static int is_stale_temporary(const char *name)
{
    const char *t = NULL;
    for (const char *q = strstr(name, ".tmp."); q; q = strstr(q + 1, ".tmp.")) t = q;
    if (!t || t == name) return 0;
    const char *d = t + 5;
    if (!*d) return 0;
    long pid = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || pid > 100000000L) return 0;
        pid = pid * 10 + (*d - '0');
    }
    if (pid <= 0 || pid == (long)getpid()) return 0;
    /* EPERM: alive but someone else's */
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

size_t alim_dir_remove_stale_temporaries(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t removed = 0;
    struct dirent *e;
    const size_t dl = strlen(dir);
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        const size_t n = dl + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) break;
        snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0) {
            if (S_ISREG(sb.st_mode) && is_stale_temporary(e->d_name)) removed += unlink(p) == 0;
            else if (S_ISDIR(sb.st_mode) && depth > 0) removed += alim_dir_remove_stale_temporaries(p, depth - 1);
        }
        free(p);
    }
    closedir(d);
    return removed;
}

/* The PID written in a lock file, 0 if none can be read. */
static long lock_owner(int fd)
{
    char b[32];
    ssize_t n = pread(fd, b, sizeof b - 1, 0);
    if (n <= 0) return 0;
    b[n] = '\0';
    char *end;
    long pid = strtol(b, &end, 10);
    return end != b && pid > 0 ? pid : 0;
}

alim_status alim_dir_lock_acquire(const char *dir, alim_dir_lock **lock, alim_error *err)
{
    *lock = NULL;
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return alim_error_set(err, errno == ENOENT || errno == ENOTDIR ? ALIM_EINVAL : ALIM_EIO, dir, "cannot lock the directory: %s",
                              strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return alim_error_set(err, ALIM_EINVAL, dir, "is not a directory");
    alim_dir_lock *h = malloc(sizeof *h);
    const size_t pn = strlen(dir) + sizeof ALIM_DIR_LOCK_NAME + 2;
    char *path = malloc(pn);
    if (!h || !path) {
        free(h), free(path);
        return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    }
    snprintf(path, pn, "%s/%s", dir, ALIM_DIR_LOCK_NAME);
    h->dev = sb.st_dev;
    h->ino = sb.st_ino;
    alim_status st = ALIM_OK;
    pthread_mutex_lock(&held_mutex);
    for (size_t i = 0; i < n_held; i++)
        if (held[i].dev == h->dev && held[i].ino == h->ino) {
            held[i].refs++;
            goto out;
        }
    if (n_held == cap_held) {
        size_t nc = cap_held ? 2 * cap_held : 8;
        held_lock *nh = realloc(held, nc * sizeof *nh);
        if (!nh) {
            st = alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
            goto out;
        }
        held = nh;
        cap_held = nc;
    }
    int fd = -1;
    /* The lock file may be replaced between open and flock (never by alim while it holds the
     * lock, but a user may delete it): the lock counts only if the file locked is still the
     * one at the path. */
    for (int attempt = 0; attempt < 100; attempt++) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) {
            st = alim_error_set(err, errno == EACCES || errno == EROFS ? ALIM_EINVAL : ALIM_EIO, dir, "cannot create the lock file %s: %s",
                                ALIM_DIR_LOCK_NAME, strerror(errno));
            goto out;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int e = errno;
            if (e == EWOULDBLOCK || e == EAGAIN) {
                /* the holder writes its PID just after taking the lock: give it a moment */
                long pid = lock_owner(fd);
                for (int i = 0; i < 50 && !pid; i++) {
                    const struct timespec ms2 = {0, 2000000};
                    nanosleep(&ms2, NULL);
                    pid = lock_owner(fd);
                }
                close(fd);
                if (pid) st = alim_error_set(err, ALIM_EINVAL, dir, "in use by process %ld", pid);
                else st = alim_error_set(err, ALIM_EINVAL, dir, "in use by another process");
            } else {
                close(fd);
                st = alim_error_set(err, ALIM_EIO, dir, "cannot lock %s: %s", ALIM_DIR_LOCK_NAME, strerror(e));
            }
            goto out;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) break;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        st = alim_error_set(err, ALIM_EIO, dir, "cannot lock: %s keeps being replaced", ALIM_DIR_LOCK_NAME);
        goto out;
    }
    char pid[32];
    const int pl = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    /* the PID is only for the message of a second writer: a failure to write it is not an
     * error (that message then says "another process") */
    const int wrote = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)pl, 0) == pl;
    (void)wrote;
    held[n_held++] = (held_lock){h->dev, h->ino, fd, 1};
    alim_dir_remove_stale_temporaries(dir, 0);
out:
    pthread_mutex_unlock(&held_mutex);
    free(path);
    if (st) free(h);
    else *lock = h;
    return st;
}

void alim_dir_lock_release(alim_dir_lock *lock)
{
    if (!lock) return;
    pthread_mutex_lock(&held_mutex);
    for (size_t i = 0; i < n_held; i++)
        if (held[i].dev == lock->dev && held[i].ino == lock->ino) {
            if (--held[i].refs == 0) {
                close(held[i].fd); /* drops the flock */
                held[i] = held[--n_held];
            }
            break;
        }
    pthread_mutex_unlock(&held_mutex);
    free(lock);
}

/* ---- file locks (see alim/io.h) ------------------------------------------------------------ */

struct alim_file_lock {
    int fd; /* -1: a file that is not locked (not a regular file) */
};

alim_status alim_file_lock_acquire(const char *path, alim_file_lock **lock, int *created, alim_error *err)
{
    *lock = NULL;
    if (created) *created = 0;
    alim_file_lock *h = malloc(sizeof *h);
    if (!h) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    /* As with the directories' lock files, the file may be replaced between open and flock:
     * the lock counts only if the file locked is still the one at the path. */
    for (int attempt = 0; attempt < 100; attempt++) {
        int made = 1;
        /* O_NONBLOCK: opening a FIFO must not wait for a reader */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST) {
            made = 0;
            fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* flock needs no write access */
        }
        if (fd < 0) {
            const int e = errno;
            free(h);
            /* the path's fault (exit 2) or the system's */
            const int users = e == ENOENT || e == ENOTDIR || e == EACCES || e == EPERM || e == EROFS || e == EISDIR || e == ENAMETOOLONG || e == ELOOP;
            return alim_error_set(err, users ? ALIM_EINVAL : ALIM_EIO, path, "cannot open: %s", strerror(e));
        }
        struct stat a, b;
        if (fstat(fd, &a) != 0) {
            const int e = errno;
            close(fd);
            free(h);
            return alim_error_set(err, ALIM_EIO, path, "cannot open: %s", strerror(e));
        }
        if (S_ISDIR(a.st_mode)) {
            close(fd);
            free(h);
            return alim_error_set(err, ALIM_EINVAL, path, "is a directory");
        }
        if (!S_ISREG(a.st_mode)) { /* /dev/null, a FIFO: nothing to hold */
            close(fd);
            h->fd = -1;
            *lock = h;
            return ALIM_OK;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int e = errno;
            close(fd);
            free(h);
            if (e == EWOULDBLOCK || e == EAGAIN) return alim_error_set(err, ALIM_EINVAL, path, "written by another process");
            return alim_error_set(err, ALIM_EIO, path, "cannot lock: %s", strerror(e));
        }
        if (stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            h->fd = fd;
            if (created) *created = made;
            *lock = h;
            return ALIM_OK;
        }
        close(fd);
    }
    free(h);
    return alim_error_set(err, ALIM_EIO, path, "cannot lock: the file keeps being replaced");
}

void alim_file_lock_release(alim_file_lock *lock)
{
    if (!lock) return;
    if (lock->fd >= 0) close(lock->fd); /* drops the flock */
    free(lock);
}
