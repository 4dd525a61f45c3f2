/* qselect.c - mta-queue's selection of messages and recipients; see
 * qselect.h */
#include <string.h>
#include <strings.h>

#include "qselect.h"

/* same_addr - is address a (as stored: no brackets) the operator's b
 * (brackets allowed)? */
static int same_addr(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (n >= 2 && b[0] == '<' && b[n - 1] == '>') {
		b++;
		n -= 2;
	}
	return strlen(a) == n && strncasecmp(a, b, n) == 0;
}

/* same_domain - is the domain of address a the operator's d? */
static int same_domain(const char *a, const char *d)
{
	const char *at = strrchr(a, '@');
	size_t n = strlen(d), m;

	if (at == NULL)
		return 0;
	at++;
	m = strlen(at);
	if (n > 0 && d[n - 1] == '.')
		n--;
	if (m > 0 && at[m - 1] == '.')
		m--;
	return n > 0 && m == n && strncasecmp(at, d, n) == 0;
}

/* qselect_by_rcpt - see qselect.h */
int qselect_by_rcpt(const struct qselect *sel)
{
	return sel->to != NULL || sel->domain != NULL;
}

/* qselect_sender - see qselect.h */
int qselect_sender(const struct qselect *sel, const char *sender)
{
	return sel->from == NULL || same_addr(sender, sel->from);
}

/* qselect_rcpt - see qselect.h */
int qselect_rcpt(const struct qselect *sel, const char *rcpt)
{
	return (sel->to == NULL || same_addr(rcpt, sel->to)) &&
	       (sel->domain == NULL || same_domain(rcpt, sel->domain));
}

/* qselect_picked - see qselect.h */
size_t qselect_picked(const struct qselect *sel, const struct envelope *env)
{
	size_t i, n = 0;

	if (!qselect_sender(sel, env->sender.text))
		return 0;
	for (i = 0; i < env->nrcpt; i++)
		n += (size_t)qselect_rcpt(sel, env->rcpt[i].text);
	return n;
}
