#ifndef CLIBPQ_SHIM_H
#define CLIBPQ_SHIM_H
// libpq-dev does not pull in pkg-config; Debian puts the header under postgresql/.
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#elif __has_include(<postgresql/libpq-fe.h>)
#include <postgresql/libpq-fe.h>
#else
#error "libpq-fe.h not found: install libpq-dev (Debian) or libpq (Homebrew) and pkg-config"
#endif
#include <poll.h>
#include <unistd.h>

// PG_DIAG_* are character macros Swift does not import.
static const int clibpq_diag_sqlstate = PG_DIAG_SQLSTATE;
static const int clibpq_diag_severity = PG_DIAG_SEVERITY_NONLOCALIZED;
static const int clibpq_diag_message_primary = PG_DIAG_MESSAGE_PRIMARY;
static const int clibpq_diag_message_detail = PG_DIAG_MESSAGE_DETAIL;
static const int clibpq_diag_message_hint = PG_DIAG_MESSAGE_HINT;
static const int clibpq_diag_statement_position = PG_DIAG_STATEMENT_POSITION;
static const int clibpq_diag_schema_name = PG_DIAG_SCHEMA_NAME;
static const int clibpq_diag_table_name = PG_DIAG_TABLE_NAME;
static const int clibpq_diag_column_name = PG_DIAG_COLUMN_NAME;
static const int clibpq_diag_constraint_name = PG_DIAG_CONSTRAINT_NAME;

#endif
