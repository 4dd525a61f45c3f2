/* version - the release, for mta-smtpd --version (mta-smtpd(8)) */
#ifndef MTA_VERSION_H
#define MTA_VERSION_H

#define MTA_VERSION "0.6.0"

#endif
