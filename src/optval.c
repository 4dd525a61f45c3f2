/* optval.c - the option table's value parsers; see optval.h */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "optval.h"

/* optval_number - a decimal in [min, max], or -1 */
int optval_number(const char *text, unsigned long long min,
                  unsigned long long max, unsigned long long *v)
{
	char *end;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	*v = strtoull(text, &end, 10);
	if (*end || errno || *v < min || *v > max)
		return -1;
	return 0;
}

/* grow - append one zeroed element to *array; its address, or NULL */
static void *grow(void *array_ptr, size_t *n, size_t size)
{
	void **array = array_ptr;
	char *a = realloc(*array, (*n + 1) * size);

	if (a == NULL)
		return NULL;
	*array = a;
	memset(a + *n * size, 0, size);
	return a + (*n)++ * size;
}

/* add_address - one ADDR:PORT appended to a list of listeners */
static int add_address(struct listen_addr **list, size_t *n, const char *v)
{
	struct listen_addr la;

	memset(&la, 0, sizeof la);     /* compared whole on reload */
	if (netaddr_parse(v, 0, &la.ss, &la.len) < 0 || strlen(v) >= sizeof la.text)
		return -1;
	snprintf(la.text, sizeof la.text, "%s", v);
	if (grow(list, n, sizeof la) == NULL)
		return -1;
	(*list)[*n - 1] = la;
	return 0;
}

/* optval_listen - one ADDR:PORT */
int optval_listen(struct config *cfg, const char *v)
{
	return add_address(&cfg->listen, &cfg->nlisten, v);
}

/* optval_smtps - one ADDR:PORT with implicit TLS */
int optval_smtps(struct config *cfg, const char *v)
{
	return add_address(&cfg->smtps, &cfg->nsmtps, v);
}

/* optval_submission - one ADDR:PORT of the submission service */
int optval_submission(struct config *cfg, const char *v)
{
	return add_address(&cfg->submission, &cfg->nsubmission, v);
}

/* add_path - a copy of a file name appended to a list of them */
static int add_path(char ***list, size_t *n, const char *v)
{
	char *copy, **slot;

	if (*v == '\0')
		return -1;
	if ((copy = strdup(v)) == NULL)
		return -1;
	if ((slot = grow(list, n, sizeof *slot)) == NULL) {
		free(copy);
		return -1;
	}
	*slot = copy;
	return 0;
}

/* optval_tls_cert - one certificate file */
int optval_tls_cert(struct config *cfg, const char *v)
{
	return add_path(&cfg->tls_cert, &cfg->ntls_cert, v);
}

/* optval_tls_key - one key file */
int optval_tls_key(struct config *cfg, const char *v)
{
	return add_path(&cfg->tls_key, &cfg->ntls_key, v);
}

/* optval_domains - a comma-separated list, lower-cased */
int optval_domains(struct config *cfg, const char *list)
{
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p), i;
		char **slot, *d;

		if (n > 0) {
			if ((d = strndup(p, n)) == NULL)
				return -1;
			for (i = 0; i < n; i++)
				d[i] = (char)tolower((unsigned char)d[i]);
			if ((slot = grow(&cfg->domains, &cfg->ndomains, sizeof *slot)) == NULL) {
				free(d);
				return -1;
			}
			*slot = d;
		}
		p += n + (end ? 1 : 0);
	}
	return 0;
}

/* optval_relay - one ADDR/BITS */
int optval_relay(struct config *cfg, const char *v)
{
	struct cidr c;

	if (cidr_parse(v, &c) < 0 || grow(&cfg->relay, &cfg->nrelay, sizeof c) == NULL)
		return -1;
	cfg->relay[cfg->nrelay - 1] = c;
	return 0;
}

/* route_attrs - the route's words after HOST[:PORT]: "tls=MODE",
 * "auth=FILE", "auth-insecure"; 0 or -1.  Credentials go only where the
 * certificate is verified: with auth= the route's policy is verify
 * unless tls= says otherwise, and a weaker tls= needs auth-insecure. */
static int route_attrs(struct route *r, const char *p)
{
	char word[sizeof r->auth_file + 8];
	size_t n;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, " \t");
		if (n >= sizeof word)
			return -1;
		memcpy(word, p, n);
		word[n] = '\0';
		p += n;
		if (strncmp(word, "auth=", 5) == 0 && word[5] != '\0' &&
		    r->auth_file[0] == '\0') {
			memcpy(r->auth_file, word + 5, n - 5 + 1);
			continue;
		}
		if (strcmp(word, "auth-insecure") == 0 && !r->auth_insecure) {
			r->auth_insecure = 1;
			continue;
		}
		if (strncmp(word, "tls=", 4) != 0 || r->has_tls ||
		    tls_policy_parse(word + 4, &r->tls) < 0)
			return -1;
		r->has_tls = 1;
	}
	if (r->auth_insecure && r->auth_file[0] == '\0')
		return -1;
	if (r->auth_file[0] && !r->has_tls) {
		r->has_tls = 1;
		r->tls = TLS_POLICY_VERIFY;
	}
	if (r->auth_file[0] && r->tls < TLS_POLICY_VERIFY && !r->auth_insecure)
		return -1;
	return 0;
}

/* optval_route - "DOMAIN=HOST[:PORT] [tls=MODE] [auth=FILE [auth-insecure]]" */
int optval_route(struct config *cfg, const char *text)
{
	const char *eq = strchr(text, '='), *colon, *end;
	struct route r;
	size_t n;

	memset(&r, 0, sizeof r);
	if (eq == NULL || eq == text || eq[1] == '\0')
		return -1;
	n = (size_t)(eq - text);
	if (n >= sizeof r.domain || strcspn(text, " \t") < n)
		return -1;
	memcpy(r.domain, text, n);
	end = eq + 1 + strcspn(eq + 1, " \t");      /* HOST[:PORT] ends here */
	colon = memrchr(eq + 1, ':', (size_t)(end - eq - 1));
	if (eq[1] == '[') {                      /* [IPv6]:port */
		const char *close = memchr(eq + 1, ']', (size_t)(end - eq - 1));
		if (close == NULL)
			return -1;
		colon = close[1] == ':' ? close + 1 : NULL;
	}
	n = (size_t)((colon ? colon : end) - eq - 1);
	if (n == 0 || n >= sizeof r.host)
		return -1;
	memcpy(r.host, eq + 1, n);
	if (colon) {
		char port[8];
		unsigned long long v;

		n = (size_t)(end - colon - 1);
		if (n >= sizeof port)
			return -1;
		memcpy(port, colon + 1, n);
		port[n] = '\0';
		if (optval_number(port, 1, 65535, &v) < 0)
			return -1;
		r.port = (unsigned)v;
	}
	if (route_attrs(&r, end) < 0)
		return -1;
	if (grow(&cfg->routes, &cfg->nroutes, sizeof r) == NULL)
		return -1;
	cfg->routes[cfg->nroutes - 1] = r;
	return 0;
}

/* optval_mta_sts - MTA-STS on outbound delivery, or not */
int optval_mta_sts(struct config *cfg, const char *v)
{
	if (strcmp(v, "yes") == 0)
		cfg->mta_sts = 1;
	else if (strcmp(v, "no") == 0)
		cfg->mta_sts = 0;
	else
		return -1;
	return 0;
}

/* optval_tls_client - the client's TLS policy */
int optval_tls_client(struct config *cfg, const char *v)
{
	return tls_policy_parse(v, &cfg->tls_client_policy);
}

/* optval_dns - the form the resolver accepts (else the scheduler would
 * refuse it at start, or after a reload) */
int optval_dns(const char *v)
{
	struct dns_config d;

	return dns_config_parse(&d, v);
}

/* optval_address - local@domain, printable, no blanks; policy.c checks
 * the rest of RFC 5321 when it reads the tables (this layer knows no
 * addresses) */
int optval_address(const char *v)
{
	const char *at = strrchr(v, '@'), *p;

	if (at == NULL || at == v || at[1] == '\0' || strlen(v) >= 254)
		return -1;
	for (p = v; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return -1;
	return 0;
}

/* optval_lmtp - "/PATH" (shorter than sun_path: 108 octets on Linux), or
 * HOST:PORT with a port number; a host with no blanks or slashes */
int optval_lmtp(const char *v)
{
	const char *colon = strrchr(v, ':'), *p;
	unsigned long long port;

	if (v[0] == '/')
		return strlen(v) < 108 && strchr(v, '\n') == NULL ? 0 : -1;
	if (colon == NULL || colon == v || colon - v > 255 ||
	    optval_number(colon + 1, 1, 65535, &port) < 0)
		return -1;
	for (p = v; p < colon; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '/')
			return -1;
	return 0;
}

/* optval_delimiter - one character, or none */
int optval_delimiter(const char *v)
{
	if (v[0] == '\0')
		return 0;
	if (v[1] != '\0' || v[0] <= ' ' || v[0] >= 0x7f || strchr("@\"\\", v[0]))
		return -1;
	return 0;
}
