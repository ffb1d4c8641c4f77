/* Tap devices: open (creating if absent) and bring up. */
#ifndef NP_TAP_H
#define NP_TAP_H

/* Returns the tap's fd (non-blocking), or -errno with err set. */
int tap_open(const char *name, char *err, size_t errlen);

#endif
