/* config.c - the configuration snapshot and its queries; see config.h.
 * The option table and its readers are in options.c. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "dane.h"
#include "tls.h"

/* The current snapshot; the lock makes taking a reference and replacing
 * the pointer one step, so a snapshot is never freed between the two. */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config *current;

/* config_free - everything the snapshot owns, then itself */
void config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->queue);
	free(cfg->mailroot);
	free(cfg->log);
	free(cfg->user);
	free(cfg->dns);
	free(cfg->aliases);
	free(cfg->virtual);
	free(cfg->local_users);
	free(cfg->root_alias);
	free(cfg->lmtp);
	free(cfg->recipient_delimiter);
	free(cfg->check_address);
	if (cfg->tables != NULL && cfg->tables_free != NULL)
		cfg->tables_free(cfg->tables);
	free(cfg->dns_trust_anchor);
	dane_resolver_free(cfg->dane_resolver);
	free(cfg->listen);
	free(cfg->smtps);
	free(cfg->submission);
	free(cfg->users);
	free(cfg->dovecot_auth);
	if (cfg->authdb != NULL && cfg->authdb_free != NULL)
		cfg->authdb_free(cfg->authdb);
	for (i = 0; i < cfg->ntls_cert; i++)
		free(cfg->tls_cert[i]);
	free(cfg->tls_cert);
	for (i = 0; i < cfg->ntls_key; i++)
		free(cfg->tls_key[i]);
	free(cfg->tls_key);
	tls_ctx_put(cfg->tls_server);
	tls_ctx_put(cfg->tls_client);
	free(cfg->tls_ca);
	for (i = 0; i < cfg->ndomains; i++)
		free(cfg->domains[i]);
	free(cfg->domains);
	free(cfg->relay);
	for (i = 0; i < cfg->nroutes; i++)
		explicit_bzero(cfg->routes[i].auth_pass, sizeof cfg->routes[i].auth_pass);
	free(cfg->routes);
	free(cfg);
}

/* config_load_tls - the server's TLS context from the pairs */
int config_load_tls(struct config *cfg, char *err, size_t errlen)
{
	if (cfg->ntls_cert != cfg->ntls_key) {
		snprintf(err, errlen, "%zu --tls-cert but %zu --tls-key: give them in "
		         "pairs", cfg->ntls_cert, cfg->ntls_key);
		return -1;
	}
	if (cfg->ntls_cert == 0 && cfg->nsmtps > 0) {
		snprintf(err, errlen, "--smtps %s needs --tls-cert and --tls-key",
		         cfg->smtps[0].text);
		return -1;
	}
	/* submission takes passwords only under TLS */
	if (cfg->ntls_cert == 0 && cfg->nsubmission > 0) {
		snprintf(err, errlen, "--submission %s needs --tls-cert and --tls-key",
		         cfg->submission[0].text);
		return -1;
	}
	if (cfg->ntls_cert > 0 &&
	    (cfg->tls_server = tls_server_ctx(cfg->tls_cert, cfg->tls_key,
	                                      cfg->ntls_cert, err, errlen)) == NULL)
		return -1;
	if ((cfg->tls_client = tls_client_ctx(cfg->tls_ca, err, errlen)) == NULL)
		return -1;
	if (cfg->dane &&
	    (cfg->dane_resolver = dane_resolver_new(cfg->dns_trust_anchor, cfg->dns,
	                                            err, errlen)) == NULL)
		return -1;
	return 0;
}

/* denied - the first --tls-cert or --tls-key file of cfg that cannot be
 * opened for lack of permission, its option in *what; NULL: none */
static const char *denied(const struct config *cfg, const char **what)
{
	size_t i;

	for (i = 0; i < cfg->ntls_cert && i < cfg->ntls_key; i++) {
		const char *files[2] = { cfg->tls_cert[i], cfg->tls_key[i] };
		int k;

		for (k = 0; k < 2; k++) {
			FILE *f = fopen(files[k], "re");

			if (f != NULL) {
				fclose(f);
				continue;
			}
			if (errno == EACCES || errno == EPERM) {
				*what = k == 0 ? "--tls-cert" : "--tls-key";
				return files[k];
			}
		}
	}
	return NULL;
}

/* config_reload_tls - see config.h */
int config_reload_tls(struct config *next, const struct config *running,
                      char *warn, size_t warnlen, char *err, size_t errlen)
{
	const char *what = NULL, *file;

	warn[0] = '\0';
	if (running->tls_server == NULL || next->ntls_cert == 0 ||
	    next->ntls_cert != next->ntls_key || (file = denied(next, &what)) == NULL)
		return config_load_tls(next, err, errlen);
	snprintf(warn, warnlen, "%s %s: %s", what, file, strerror(EACCES));
	next->tls_server = tls_ctx_hold(running->tls_server);
	next->tls_client = tls_client_ctx(next->tls_ca, err, errlen);
	return next->tls_client ? 0 : -1;
}

/* config_publish - cfg becomes current */
void config_publish(struct config *cfg)
{
	struct config *old;

	pthread_mutex_lock(&current_lock);
	old = current;
	current = cfg;
	pthread_mutex_unlock(&current_lock);
	config_put(old);
}

/* config_get - a reference to the current snapshot */
const struct config *config_get(void)
{
	struct config *cfg;

	pthread_mutex_lock(&current_lock);
	cfg = current;
	if (cfg)
		atomic_fetch_add(&cfg->refs, 1);
	pthread_mutex_unlock(&current_lock);
	return cfg;
}

/* config_hold - another reference */
const struct config *config_hold(const struct config *cfg)
{
	struct config *c = (struct config *)(uintptr_t)cfg;   /* see config_put */

	atomic_fetch_add(&c->refs, 1);
	return cfg;
}

/* config_put - the last reference frees the snapshot */
void config_put(const struct config *cfg)
{
	/* the snapshot is read-only to its holders, but its owner is
	 * whoever puts the last reference: the count is not part of what
	 * they read */
	struct config *c = (struct config *)(uintptr_t)cfg;

	if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
		config_free(c);
}

/* config_is_local - is domain one of ours? */
int config_is_local(const struct config *cfg, const char *domain)
{
	size_t i;

	for (i = 0; i < cfg->ndomains; i++)
		if (strcasecmp(cfg->domains[i], domain) == 0)
			return 1;
	return 0;
}

/* config_may_relay - is the client allowed to relay? */
int config_may_relay(const struct config *cfg, const struct sockaddr *client)
{
	size_t i;

	for (i = 0; i < cfg->nrelay; i++)
		if (cidr_match(&cfg->relay[i], client))
			return 1;
	return 0;
}

/* config_fds_needed - descriptors the limits may hold open at once: each
 * connection its socket and its queue file; each delivery its message
 * file, then a mailbox's directories, file and lock (at most 5), or a
 * socket and a DNS query, plus a connection kept for the next delivery
 * (conncache keeps at most --max-deliveries), plus the Maildir its
 * thread keeps open from an earlier delivery (3, maildir_dirs.h: kept
 * also while the thread delivers elsewhere, or waits for work); and a
 * fixed part for the standard streams, log, queue lock and directories,
 * inotify, eventfds and the scheduler's directory scans */
unsigned long config_fds_needed(const struct config *cfg)
{
	return 2UL * cfg->max_clients + 9UL * cfg->max_deliveries +
	       (unsigned long)cfg->nlisten + (unsigned long)cfg->nsmtps +
	       (unsigned long)cfg->nsubmission + 64;
}
