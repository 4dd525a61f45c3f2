/* msgsrc.c - messages read from mbox files, Maildirs and files; see msgsrc.h */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stralloc.h>

#include "msgsrc.h"
#include "readall.h"

struct msgsrc {
	enum msgsrc_kind kind;
	char *path;
	int done;                 /* MSGSRC_MESSAGE: handed out already */
	FILE *f;                  /* MSGSRC_MBOX */
	char *line;               /* getline() buffer */
	size_t linecap;
	int have_from;            /* the next message's From_ line was read */
	unsigned long count;      /* messages handed out */
	char **names;             /* MSGSRC_MAILDIR: "new/x", "cur/y", ... */
	size_t nnames, next;
	char where[4200];             /* a path, or a path and a number */
};


/* msg_free - release m's text */
void msg_free(struct msg *m)
{
	free(m->data);
	m->data = NULL;
	m->len = 0;
}

/* read_file - the whole file at path into *m */
static int read_file(const char *path, struct msg *m)
{
	size_t n;
	char *text = readall_path(path, SIZE_MAX, &n);

	if (text == NULL)
		return -1;
	m->data = text;
	m->len = n;
	return 0;
}

/* cmp_names - qsort: file names in byte order */
static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* maildir_list - the names in path/sub into ms->names */
static int maildir_list(struct msgsrc *ms, const char *sub)
{
	char dir[4096];
	struct dirent *de;
	DIR *d;

	if ((size_t)snprintf(dir, sizeof dir, "%s/%s", ms->path, sub) >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		char **v, *name;
		size_t k = ms->nnames;

		if (de->d_name[0] == '.')
			continue;
		v = realloc(ms->names, (k + 1) * sizeof *v);
		if (v == NULL)
			goto nomem;
		ms->names = v;
		name = malloc(strlen(sub) + strlen(de->d_name) + 2);
		if (name == NULL)
			goto nomem;
		sprintf(name, "%s/%s", sub, de->d_name);
		ms->names[ms->nnames++] = name;
	}
	closedir(d);
	return 0;
nomem:
	closedir(d);
	errno = ENOMEM;
	return -1;
}

/* msgsrc_open - find out what path is and start reading it */
int msgsrc_open(const char *path, struct msgsrc **out)
{
	struct msgsrc *ms;
	struct stat st;
	char head[5];
	size_t start;
	int err;

	if (stat(path, &st) < 0)
		return -1;
	ms = calloc(1, sizeof *ms);
	if (ms == NULL || (ms->path = strdup(path)) == NULL)
		goto nomem;
	if (S_ISDIR(st.st_mode)) {
		ms->kind = MSGSRC_MAILDIR;
		if (maildir_list(ms, "new") < 0)
			goto fail;
		start = ms->nnames;
		if (maildir_list(ms, "cur") < 0)
			goto fail;
		if (ms->nnames == 0) {
			char probe[4096];

			snprintf(probe, sizeof probe, "%s/cur", path);
			if (stat(probe, &st) < 0) {
				snprintf(probe, sizeof probe, "%s/new", path);
				if (stat(probe, &st) < 0) {
					errno = ENOTDIR;   /* not a Maildir */
					goto fail;
				}
			}
		}
		qsort(ms->names, start, sizeof *ms->names, cmp_names);
		qsort(ms->names + start, ms->nnames - start, sizeof *ms->names,
		      cmp_names);
		*out = ms;
		return 0;
	}
	ms->f = fopen(path, "re");
	if (ms->f == NULL)
		goto fail;
	if (fread(head, 1, 5, ms->f) == 5 && memcmp(head, "From ", 5) == 0) {
		ms->kind = MSGSRC_MBOX;
		rewind(ms->f);
	} else {
		ms->kind = MSGSRC_MESSAGE;
		fclose(ms->f);
		ms->f = NULL;
	}
	*out = ms;
	return 0;
nomem:
	errno = ENOMEM;
fail:
	err = errno;
	msgsrc_close(ms);
	errno = err;
	return -1;
}

/* is_empty_line - "\n" or "\r\n" */
static int is_empty_line(const char *s, size_t n)
{
	return (n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r' &&
	                                    s[1] == '\n');
}

/* mbox_next - the next message of an mbox */
static int mbox_next(struct msgsrc *ms, struct msg *m)
{
	stralloc sa = { 0, 0, 0 };
	int prev_empty = 0, any = 0;
	ssize_t n;

	for (;;) {
		n = getline(&ms->line, &ms->linecap, ms->f);
		if (n < 0)
			break;
		if ((size_t)n >= 5 && memcmp(ms->line, "From ", 5) == 0 &&
		    (prev_empty || (!ms->have_from && !any))) {
			if (ms->have_from || any)
				goto have_one;          /* the next message's */
			ms->have_from = 1;
			continue;
		}
		any = 1;
		prev_empty = is_empty_line(ms->line, (size_t)n);
		{
			const char *p = ms->line;
			size_t k = (size_t)n, q = 0;

			while (q < k && p[q] == '>')
				q++;
			if (q > 0 && k - q >= 5 && memcmp(p + q, "From ", 5) == 0) {
				p++;                    /* mboxrd: one '>' less */
				k--;
			}
			if (!stralloc_catb(&sa, p, k))
				goto nomem;
		}
	}
	if (ferror(ms->f)) {
		stralloc_free(&sa);
		errno = EIO;
		return -1;
	}
	ms->have_from = 0;
	if (!any)
		return 0;
have_one:
	ms->have_from = 1;
	/* the empty line before the next From_ line is the separator */
	if (sa.len >= 2 && sa.s[sa.len - 1] == '\n' && prev_empty) {
		sa.len--;
		if (sa.len > 0 && sa.s[sa.len - 1] == '\r')
			sa.len--;
	}
	if (sa.s == NULL && !stralloc_ready(&sa, 1))
		goto nomem;
	m->data = sa.s;
	m->len = sa.len;
	ms->count++;
	snprintf(ms->where, sizeof ms->where, "%s: message %lu", ms->path,
	         ms->count);
	return 1;
nomem:
	stralloc_free(&sa);
	errno = ENOMEM;
	return -1;
}

/* msgsrc_next - the next message */
int msgsrc_next(struct msgsrc *ms, struct msg *m)
{
	char path[4096];

	m->data = NULL;
	m->len = 0;
	switch (ms->kind) {
	case MSGSRC_MBOX:
		return mbox_next(ms, m);
	case MSGSRC_MAILDIR:
		if (ms->next >= ms->nnames)
			return 0;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", ms->path,
		                     ms->names[ms->next++]) >= sizeof path) {
			errno = ENAMETOOLONG;
			return -1;
		}
		snprintf(ms->where, sizeof ms->where, "%s", path);
		if (read_file(path, m) < 0)
			return -1;
		ms->count++;
		return 1;
	case MSGSRC_MESSAGE:
		break;
	}
	if (ms->done)
		return 0;
	ms->done = 1;
	snprintf(ms->where, sizeof ms->where, "%s", ms->path);
	if (read_file(ms->path, m) < 0)
		return -1;
	ms->count++;
	return 1;
}

/* msgsrc_kind - what kind of source ms is */
enum msgsrc_kind msgsrc_kind(const struct msgsrc *ms)
{
	return ms->kind;
}

/* msgsrc_where - where the last message came from */
const char *msgsrc_where(const struct msgsrc *ms)
{
	return ms->where[0] ? ms->where : ms->path;
}

/* msgsrc_close - release ms */
void msgsrc_close(struct msgsrc *ms)
{
	size_t i;

	if (ms == NULL)
		return;
	if (ms->f)
		fclose(ms->f);
	for (i = 0; i < ms->nnames; i++)
		free(ms->names[i]);
	free(ms->names);
	free(ms->line);
	free(ms->path);
	free(ms);
}
