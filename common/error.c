/* Protocol-edge errors: class + description, first reason wins. */
#include "config.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "error.h"

void colo_error_set(struct colo_error *err, enum error_class cls,
		const char *fmt, ...)
{
	va_list ap;

	if (!err || err->set)
		return;
	err->set = true;
	err->cls = cls;
	va_start(ap, fmt);
	vsnprintf(err->desc, sizeof(err->desc), fmt, ap);
	va_end(ap);
}

void colo_error_clear(struct colo_error *err)
{
	memset(err, 0, sizeof(*err));
}

enum error_class colo_error_class_from_errno(int neg_errno)
{
	switch (neg_errno) {
	case -ENOENT:
		return ERROR_CLASS_DOMAIN_NOT_FOUND;
	case -EINVAL:
	case -ERANGE:
		return ERROR_CLASS_INVALID_PARAMETER;
	case -ETIMEDOUT:
		return ERROR_CLASS_TIMEOUT;
	case -EBUSY:
	case -EALREADY:
		return ERROR_CLASS_INVALID_STATE;
	case -EMSGSIZE:
		return ERROR_CLASS_TOO_LARGE;
	case -EIO:
	case -ENOMEM:
		return ERROR_CLASS_INTERNAL_ERROR;
	default:
		return ERROR_CLASS_GENERIC_ERROR;
	}
}
