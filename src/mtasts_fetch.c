/* mtasts_fetch.c - the policy file over HTTPS with libcurl; see
 * mtasts_fetch.h */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mtasts.h"
#include "mtasts_fetch.h"
#include "netaddr.h"

enum { RESOLVE_MAX = DNS_NAME_MAX + DNS_ADDR_MAX * (NETADDR_TEXT_MAX + 3) + 16 };

/* the body as it arrives */
struct body {
	char *buf;
	size_t cap, len;
	int too_big;
};

/* mtasts_fetch_init - once, before threads */
int mtasts_fetch_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

/* take - libcurl's write callback: keep up to MTASTS_POLICY_MAX bytes,
 * and stop the transfer beyond (a short count aborts it) */
static size_t take(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;

	if (n > MTASTS_POLICY_MAX - b->len || n > b->cap - 1 - b->len) {
		b->too_big = 1;
		return 0;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	return n;
}

/* resolve_line - "mta-sts.DOMAIN:443:ADDR,ADDR..." from our resolver;
 * 0, or -1 with err set */
static int resolve_line(const struct dns_config *dns, const char *host,
                        char *line, size_t len, char *err, size_t errlen)
{
	struct sockaddr_storage addrs[DNS_ADDR_MAX];
	enum dns_result r;
	size_t n, i, used;

	r = dns_addrs(dns, host, addrs, DNS_ADDR_MAX, &n);
	if (r != DNS_OK) {
		snprintf(err, errlen, "no address for %s (%s)", host,
		         r == DNS_TEMP ? "DNS lookup failed" : "none");
		return -1;
	}
	used = (size_t)snprintf(line, len, "%s:443:", host);
	for (i = 0; i < n && used < len; i++) {
		char ip[NETADDR_TEXT_MAX];
		const char *fmt = addrs[i].ss_family == AF_INET6 ? "%s[%s]" : "%s%s";

		netaddr_ip((struct sockaddr *)&addrs[i], ip, sizeof ip);
		used += (size_t)snprintf(line + used, len - used, fmt, i ? "," : "", ip);
	}
	return used < len ? 0 : -1;
}

/* mtasts_fetch - one GET, no redirects */
int mtasts_fetch(const struct dns_config *dns, const char *domain,
                 const char *ca, int timeout_s, char *buf, size_t cap,
                 size_t *len, char *err, size_t errlen)
{
	char host[DNS_NAME_MAX], url[DNS_NAME_MAX + 64], line[RESOLVE_MAX];
	char cerr[CURL_ERROR_SIZE];
	struct curl_slist *pin = NULL;
	struct body b = { buf, cap, 0, 0 };
	const char *type = NULL;
	long code = 0;
	CURL *h;
	CURLcode rc;
	int ret = -1;

	*len = 0;
	if (snprintf(host, sizeof host, "mta-sts.%s", domain) >= (int)sizeof host) {
		snprintf(err, errlen, "domain name too long");
		return -1;
	}
	if (resolve_line(dns, host, line, sizeof line, err, errlen) < 0)
		return -1;
	snprintf(url, sizeof url, "https://%s/.well-known/mta-sts.txt", host);
	if ((h = curl_easy_init()) == NULL ||
	    (pin = curl_slist_append(NULL, line)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	cerr[0] = '\0';
	/* every option checked: one libcurl refuses (an older libcurl
	 * without CURLOPT_PROTOCOLS_STR, no memory) would leave the fetch
	 * less strict than this file says; a failed fetch instead */
	if ((rc = curl_easy_setopt(h, CURLOPT_URL, url)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_RESOLVE, pin)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https")) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L)) != CURLE_OK ||
	    /* not through a proxy named by the environment: to the address
	     * our resolver found */
	    (rc = curl_easy_setopt(h, CURLOPT_PROXY, "")) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)timeout_s)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)timeout_s)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_SSLVERSION,
	                           (long)CURL_SSLVERSION_TLSv1_2)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)MTASTS_POLICY_MAX)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_USERAGENT, "mta MTA-STS")) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, take)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_WRITEDATA, &b)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr)) != CURLE_OK ||
	    (ca != NULL && (rc = curl_easy_setopt(h, CURLOPT_CAINFO, ca)) != CURLE_OK)) {
		snprintf(err, errlen, "%s: libcurl refused an option: %s", url,
		         curl_easy_strerror(rc));
		goto out;
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url,
		         b.too_big || rc == CURLE_FILESIZE_EXCEEDED
		         ? "policy larger than 64 KiB"
		         : cerr[0] ? cerr : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		snprintf(err, errlen, "%s: HTTP status %ld", url, code);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type);
	if (type == NULL || strncasecmp(type, "text/plain", 10) != 0 ||
	    (type[10] != '\0' && type[10] != ';' && type[10] != ' ')) {
		snprintf(err, errlen, "%s: media type %s, not text/plain", url,
		         type ? type : "none");
		goto out;
	}
	buf[b.len] = '\0';
	*len = b.len;
	ret = 0;
out:
	curl_slist_free_all(pin);
	if (h != NULL)
		curl_easy_cleanup(h);
	return ret;
}
