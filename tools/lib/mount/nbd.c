// SPDX-License-Identifier: GPL-2.0
/*
 * cbt mount's machinery (nbd.h, docs/mount.md). The choice of nbd-client
 * over `nbdkit --run' and qemu-nbd: nbd-client configures the device over
 * netlink and exits, so one process (nbdkit) serves the device and nothing
 * else has to stay alive; when nbdkit dies its socket closes and the
 * kernel fails every request with EIO at once (no dead-connection timeout
 * is set, no task hangs); `nbd-client -d' then frees the device.
 */
#include <blkid.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#include "image/crypt.h"
#include "image/view.h"
#include "mount/nbd.h"
#include "util/util.h"

/* How long nbdkit may take to open the chain and listen (a slow guest, a big v1 chain). */
#define SERVER_START_MS 120000

const char *cbt_nbdkit_plugin(void)
{
	const char *p = getenv("CBT_NBDKIT_PLUGIN");

	return p && *p ? p : "cbt";
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Run @argv, its stdout and stderr appended to @log (or inherited when
 * NULL): its exit status, or a negative errno when it could not run.
 */
static int run(const char *const argv[], const char *log)
{
	int status, fd;
	pid_t pid = fork();

	if (pid < 0)
		return cbt_err(-errno, "fork: %s", strerror(errno));
	if (!pid) {
		if (log) {
			fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
			if (fd >= 0) {
				dup2(fd, STDOUT_FILENO);
				dup2(fd, STDERR_FILENO);
			}
		}
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "cbt: running %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return cbt_err(-errno, "waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* True when @pid is a live (not zombie) nbdkit: a recycled pid is left alone. */
static bool nbdkit_alive(pid_t pid)
{
	char path[64], buf[256], *name, *end;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	name = strchr(buf, '(');
	end = strrchr(buf, ')');
	if (!name || !end || end[1] != ' ')
		return false;
	*end = 0;
	return !strcmp(name + 1, "nbdkit") && end[2] != 'Z';
}

static int state_path(char *buf, size_t len, const char *id, const char *suffix)
{
	if ((size_t)snprintf(buf, len, "%s/%s%s", CBT_MOUNT_DIR, id, suffix) >= len)
		return cbt_err(-ENAMETOOLONG, "%s/%s%s: path too long", CBT_MOUNT_DIR, id, suffix);
	return 0;
}

/* CBT_MOUNT_DIR, made root-only, and its lock (held while a device is chosen and attached). */
static int lock_state_dir(void)
{
	int fd;

	if (mkdir("/run/cbt", 0755) && errno != EEXIST)
		return cbt_err(-errno, "/run/cbt: %s", strerror(errno));
	if (mkdir(CBT_MOUNT_DIR, 0700) && errno != EEXIST)
		return cbt_err(-errno, "%s: %s", CBT_MOUNT_DIR, strerror(errno));
	fd = open(CBT_MOUNT_DIR "/.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cbt_err(-errno, "%s/.lock: %s", CBT_MOUNT_DIR, strerror(errno));
	if (flock(fd, LOCK_EX)) {
		int err = -errno;

		close(fd);
		return cbt_err(err, "%s/.lock: %s", CBT_MOUNT_DIR, strerror(-err));
	}
	return fd;
}

static int read_sysfs_u64(const char *path, uint64_t *v)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return cbt_parse_u64(buf, v);
}

/* The nbd module, loaded when it is not. */
static int load_nbd(void)
{
	static const char *const argv[] = { "modprobe", "nbd", NULL };
	int ret;

	if (!access("/sys/module/nbd", F_OK))
		return 0;
	ret = run(argv, NULL);
	if (ret < 0)
		return ret;
	if (ret || access("/sys/block/nbd0", F_OK))
		return cbt_err(-ENODEV, "cannot load the nbd kernel module (modprobe nbd)");
	return 0;
}

/*
 * A /dev/nbdX nobody uses: not connected (size 0, no pid) and in no
 * state file (a mount whose server died keeps its device until
 * `cbt unmount'). Called with the state directory locked.
 */
static int pick_device(struct cbt_mount *m)
{
	char path[128];
	uint64_t size;

	for (int i = 0; i < 4096; i++) {
		snprintf(path, sizeof(path), "/sys/block/nbd%d/size", i);
		if (read_sysfs_u64(path, &size))
			break;
		snprintf(path, sizeof(path), "/sys/block/nbd%d/pid", i);
		if (size || !access(path, F_OK))
			continue;
		snprintf(m->id, sizeof(m->id), "nbd%d", i);
		if (state_path(path, sizeof(path), m->id, "") || !access(path, F_OK))
			continue;
		snprintf(m->device, sizeof(m->device), "/dev/nbd%d", i);
		return 0;
	}
	return cbt_err(-EBUSY, "no free nbd device (all /dev/nbd* are in use)");
}

/*
 * Start nbdkit in the foreground of its own session (a double fork: it is
 * nobody's child once cbt exits), its messages going to @log, and wait
 * until it wrote its pid file: it then listens. nbdkit opens the chain
 * before it listens, so a chain it cannot serve ends it here.
 */
static int start_server(const struct cbt_mount_opts *o, struct cbt_mount *m, const char *log,
			const char *pidfile)
{
	char chain_arg[PATH_MAX + 8], at_arg[128], key_arg[PATH_MAX + 8], s3_arg[PATH_MAX + 16];
	const char *argv[18];
	int pfd[2], status, n = 0, fd;
	pid_t pid, gpid = -1;

	if ((size_t)snprintf(chain_arg, sizeof(chain_arg), "chain=%s", o->chain) >=
	    sizeof(chain_arg))
		return cbt_err(-ENAMETOOLONG, "%s: path too long", o->chain);
	argv[n++] = "nbdkit";
	argv[n++] = "-f";
	argv[n++] = "--log=stderr";
	argv[n++] = "-U";
	argv[n++] = m->socket;
	argv[n++] = "-P";
	argv[n++] = pidfile;
	if (o->writable)
		argv[n++] = "--filter=cow";
	else
		argv[n++] = "-r";
	argv[n++] = cbt_nbdkit_plugin();
	argv[n++] = chain_arg;
	if (o->at) {
		snprintf(at_arg, sizeof(at_arg), "at=%s", o->at);
		argv[n++] = at_arg;
	}
	/* the process key's file (crypt.h): the plugin reads it itself */
	if (cbt_key_path()) {
		if ((size_t)snprintf(key_arg, sizeof(key_arg), "key=%s", cbt_key_path()) >=
		    sizeof(key_arg))
			return cbt_err(-ENAMETOOLONG, "%s: path too long", cbt_key_path());
		argv[n++] = key_arg;
	}
	/* a chain in S3: nbdkit makes its own view (keys from the same environment) */
	if (o->s3_config) {
		if ((size_t)snprintf(s3_arg, sizeof(s3_arg), "s3-config=%s", o->s3_config) >=
		    sizeof(s3_arg))
			return cbt_err(-ENAMETOOLONG, "%s: path too long", o->s3_config);
		argv[n++] = s3_arg;
	}
	argv[n] = NULL;

	unlink(pidfile);
	if (pipe2(pfd, O_CLOEXEC))
		return cbt_err(-errno, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return cbt_err(-errno, "fork: %s", strerror(errno));
	}
	if (!pid) {
		setsid();
		gpid = fork();
		if (!gpid) {
			fd = open("/dev/null", O_RDONLY);
			if (fd >= 0)
				dup2(fd, STDIN_FILENO);
			fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (fd >= 0) {
				dup2(fd, STDOUT_FILENO);
				dup2(fd, STDERR_FILENO);
			}
			execvp(argv[0], (char *const *)argv);
			fprintf(stderr, "running nbdkit: %s (install nbdkit)\n", strerror(errno));
			_exit(127);
		}
		if (write(pfd[1], &gpid, sizeof(gpid)) != sizeof(gpid))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &gpid, sizeof(gpid)) != sizeof(gpid))
		gpid = -1;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (gpid <= 0)
		return cbt_err(-ECHILD, "cannot start nbdkit");
	m->pid = gpid;
	/* nbdkit has no readiness signal but its pid file: poll it, bounded */
	for (int ms = 0; ms < SERVER_START_MS; ms += 10) {
		if (!access(pidfile, F_OK))
			return 0;
		if (kill(gpid, 0) && errno == ESRCH)
			break;
		if (!nbdkit_alive(gpid) && ms > 1000)
			break;
		sleep_ms(10);
	}
	if (nbdkit_alive(gpid))
		kill(gpid, SIGKILL);
	m->pid = -1;
	return cbt_err(-EIO, "nbdkit did not start (its messages: %s)", log);
}

/* Whatever nbdkit wrote, on stderr: the reason a mount could not start. */
static void show_log(const char *log)
{
	char line[1024];
	FILE *f = fopen(log, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "  %s", line);
	fclose(f);
}

/*
 * nbd-client's default 512-byte sectors: a filesystem with 1 KiB blocks
 * (a small ext4) does not mount on a device with bigger logical sectors.
 */
static int connect_device(const struct cbt_mount_opts *o, const struct cbt_mount *m,
			  const char *log)
{
	const char *argv[] = { "nbd-client", "-unix", m->socket, m->device,
			       o->writable ? NULL : "-readonly", NULL };
	char path[128];
	uint64_t size = 0;
	int ret = run(argv, log);

	if (ret < 0)
		return ret;
	if (ret == 127)
		return cbt_err(-ENOENT, "cannot run nbd-client (install nbd-client)");
	snprintf(path, sizeof(path), "/sys/block/%s/size", m->id);
	if (ret || read_sysfs_u64(path, &size) || !size)
		return cbt_err(-EIO, "nbd-client could not connect %s (see %s)", m->device, log);
	return 0;
}

/* @m->fsdev: the whole device, or partition N once the kernel has read the table. */
static int pick_fsdev(const struct cbt_mount_opts *o, struct cbt_mount *m)
{
	int fd;

	if (!o->partition) {
		snprintf(m->fsdev, sizeof(m->fsdev), "%s", m->device);
		return 0;
	}
	snprintf(m->fsdev, sizeof(m->fsdev), "%sp%u", m->device, o->partition);
	if (!access(m->fsdev, F_OK))
		return 0;
	fd = open(m->device, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ioctl(fd, BLKRRPART, 0);
		close(fd);
	}
	if (access(m->fsdev, F_OK))
		return cbt_err(-ENOENT, "the restore point has no partition %u (%s)", o->partition,
			       m->fsdev);
	return 0;
}

static int fs_type(const char *dev, char *type, size_t len)
{
	blkid_probe pr = blkid_new_probe_from_filename(dev);
	const char *v = NULL;
	int ret = -ENOENT;

	if (!pr)
		return cbt_err(-errno ? -errno : -EIO, "%s: cannot probe", dev);
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	if (!blkid_do_safeprobe(pr) && !blkid_probe_lookup_value(pr, "TYPE", &v, NULL) && v) {
		snprintf(type, len, "%s", v);
		ret = 0;
	}
	blkid_free_probe(pr);
	if (ret)
		return cbt_err(ret, "%s: no filesystem found (--device-only gives the device;"
			       " --partition N mounts one partition)", dev);
	return 0;
}

/*
 * Read-only unless --writable. An image taken while the filesystem was
 * mounted has a log to replay, which a read-only device cannot take:
 * mount it without replaying (the files as the log left them) and say
 * that --writable replays it into the overlay. xfs gets nouuid: the
 * origin of the backup may be mounted on this host with the same UUID.
 */
static int mount_fs(const struct cbt_mount_opts *o, const struct cbt_mount *m)
{
	unsigned long flags = o->writable ? 0 : MS_RDONLY;
	bool xfs, ext;
	char type[32];
	int ret, err;

	ret = fs_type(m->fsdev, type, sizeof(type));
	if (ret)
		return ret;
	xfs = !strcmp(type, "xfs");
	ext = !strncmp(type, "ext", 3);
	if (!mount(m->fsdev, m->mountpoint, type, flags, xfs ? "nouuid" : NULL))
		return 0;
	err = errno;
	/* EROFS: recovery needed on a read-only device; anything else is an error */
	if (err == EROFS && !o->writable && (xfs || ext) &&
	    !mount(m->fsdev, m->mountpoint, type, flags, xfs ? "nouuid,norecovery" : "noload")) {
		if (!o->quiet)
			fprintf(stderr, "cbt mount: %s needs its log replayed; mounted without"
				" (%s): --writable replays it into an overlay\n", type,
				xfs ? "norecovery" : "noload");
		return 0;
	}
	return cbt_err(-err, "mount %s (%s) on %s: %s", m->fsdev, type, m->mountpoint,
		       strerror(err));
}

static int write_state(const struct cbt_mount_opts *o, const struct cbt_mount *m)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;
	int ret;

	ret = state_path(path, sizeof(path), m->id, "");
	if (!ret)
		ret = state_path(tmp, sizeof(tmp), m->id, ".tmp");
	if (ret)
		return ret;
	f = fopen(tmp, "we");
	if (!f)
		return cbt_err(-errno, "%s: %s", tmp, strerror(errno));
	fprintf(f, "device=%s\nfsdev=%s\nsocket=%s\nmountpoint=%s\npid=%d\nchain=%s\nat=%s\n"
		"writable=%d\n", m->device, m->fsdev, m->socket, m->mountpoint, (int)m->pid,
		o->chain, o->at ? o->at : "", o->writable);
	if (fclose(f) || rename(tmp, path)) {
		ret = cbt_err(-errno, "%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	return ret;
}

int cbt_mount_start(const struct cbt_mount_opts *o, struct cbt_mount *m)
{
	char log[PATH_MAX], pidfile[PATH_MAX];
	struct cbt_view_opts vo = { .s3_config = o->s3_config };
	struct cbt_view *v;
	bool attached = false;
	int lock, ret;

	memset(m, 0, sizeof(*m));
	m->pid = -1;
	if (o->mountpoint && !realpath(o->mountpoint, m->mountpoint))
		return cbt_err(-errno, "%s: %s", o->mountpoint, strerror(errno));
	/* refuse a chain nbdkit could not serve before anything is attached */
	ret = cbt_view_open(&v, o->chain, o->at, &vo);
	if (ret)
		return ret;
	cbt_view_close(v);
	ret = load_nbd();
	if (ret)
		return ret;
	lock = lock_state_dir();
	if (lock < 0)
		return lock;
	ret = pick_device(m);
	if (!ret)
		ret = state_path(m->socket, sizeof(m->socket), m->id, ".sock");
	if (!ret)
		ret = state_path(log, sizeof(log), m->id, ".log");
	if (!ret)
		ret = state_path(pidfile, sizeof(pidfile), m->id, ".pid");
	if (ret)
		goto out;
	unlink(m->socket);
	ret = start_server(o, m, log, pidfile);
	if (ret) {
		show_log(log);
		goto out;
	}
	/* from here on the state file lets `cbt unmount' undo a half-done mount */
	ret = write_state(o, m);
	if (!ret)
		ret = connect_device(o, m, log);
	attached = !ret;
	if (!ret)
		ret = pick_fsdev(o, m);
	if (!ret && o->mountpoint)
		ret = mount_fs(o, m);
	if (!ret)
		ret = write_state(o, m);
out:
	if (ret && m->pid > 0) {
		struct cbt_mount undo = *m;

		/* nothing was mounted: cbt_mount_stop() must not unmount what is there */
		undo.mountpoint[0] = 0;
		if (!attached)
			undo.device[0] = 0;
		cbt_mount_stop(&undo, true);
	}
	close(lock);
	return ret;
}

static int read_state(const char *id, struct cbt_mount *m)
{
	char path[PATH_MAX], line[PATH_MAX + 32];
	FILE *f;

	memset(m, 0, sizeof(*m));
	m->pid = -1;
	if (state_path(path, sizeof(path), id, ""))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	snprintf(m->id, sizeof(m->id), "%s", id);
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, '=');

		if (!v)
			continue;
		*v++ = 0;
		v[strcspn(v, "\n")] = 0;
		if (!strcmp(line, "device"))
			snprintf(m->device, sizeof(m->device), "%s", v);
		else if (!strcmp(line, "fsdev"))
			snprintf(m->fsdev, sizeof(m->fsdev), "%s", v);
		else if (!strcmp(line, "socket"))
			snprintf(m->socket, sizeof(m->socket), "%s", v);
		else if (!strcmp(line, "mountpoint"))
			snprintf(m->mountpoint, sizeof(m->mountpoint), "%s", v);
		else if (!strcmp(line, "pid"))
			m->pid = atoi(v);
	}
	fclose(f);
	return 0;
}

int cbt_mount_find(const char *what, struct cbt_mount *m)
{
	char real[PATH_MAX];
	const char *id = what;
	struct dirent *e;
	DIR *d;

	if (!strncmp(id, "/dev/", 5))
		id += 5;
	if (!strncmp(id, "nbd", 3) && id[3] && strspn(id + 3, "0123456789") == strlen(id + 3)) {
		if (!read_state(id, m))
			return 0;
		return cbt_err(-ENOENT, "%s: not a device cbt mount attached", what);
	}
	if (!realpath(what, real))
		snprintf(real, sizeof(real), "%s", what);
	d = opendir(CBT_MOUNT_DIR);
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "nbd", 3) || strchr(e->d_name, '.'))
			continue;
		if (!read_state(e->d_name, m) && m->mountpoint[0] && !strcmp(m->mountpoint, real)) {
			closedir(d);
			return 0;
		}
	}
	if (d)
		closedir(d);
	return cbt_err(-ENOENT, "%s: not a mount point or device of cbt mount", what);
}

int cbt_mount_stop(const struct cbt_mount *m, bool quiet)
{
	char path[PATH_MAX];
	int ret = 0;

	if (m->mountpoint[0] && umount2(m->mountpoint, 0)) {
		if (errno == EBUSY) {
			if (!quiet)
				fprintf(stderr, "cbt unmount: %s is busy: detached lazily; its"
					" readers get I/O errors\n", m->mountpoint);
			if (umount2(m->mountpoint, MNT_DETACH))
				ret = cbt_err(-errno, "umount %s: %s", m->mountpoint,
					      strerror(errno));
		} else if (errno != EINVAL && errno != ENOENT) {
			/* EINVAL: not mounted any more */
			ret = cbt_err(-errno, "umount %s: %s", m->mountpoint, strerror(errno));
		}
	}
	if (ret)
		return ret;
	if (m->device[0]) {
		const char *argv[] = { "nbd-client", "-d", m->device, NULL };

		state_path(path, sizeof(path), m->id, ".log");
		run(argv, path);
	}
	if (nbdkit_alive(m->pid)) {
		kill(m->pid, SIGTERM);
		for (int ms = 0; ms < 10000 && nbdkit_alive(m->pid); ms += 10)
			sleep_ms(10);
		/* the unmount returns once the server is gone, killed or not */
		if (nbdkit_alive(m->pid)) {
			kill(m->pid, SIGKILL);
			for (int ms = 0; ms < 10000 && nbdkit_alive(m->pid); ms += 10)
				sleep_ms(10);
		}
		if (nbdkit_alive(m->pid) && !quiet)
			fprintf(stderr, "cbt unmount: nbdkit (pid %d) did not exit\n", (int)m->pid);
	}
	unlink(m->socket);
	if (!state_path(path, sizeof(path), m->id, ".pid"))
		unlink(path);
	if (!state_path(path, sizeof(path), m->id, ""))
		unlink(path);
	return 0;
}
