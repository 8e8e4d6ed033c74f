/*
 * config.h: configuration from the environment (12-factor; command-line flags override
 * by editing the struct after wf_config_from_env). See DESIGN.md "Configuration".
 *
 * Every secret read here (SECRET_KEY, WFREG_FERNET_KEYS, the password in DATABASE_URL,
 * engine API keys) is registered with the log's redaction list as it is read.
 */
#ifndef WF_CORE_CONFIG_H
#define WF_CORE_CONFIG_H

#include "buf.h"
#include "err.h"
#include "log.h"
#include "wf_engine.h"

#define WF_DEFAULT_DATABASE_URL "sqlite:./var/wfreg.db"
#define WF_DEFAULT_LISTEN "127.0.0.1:8080"

typedef struct wf_config {
    char *database_url; /* never NULL after wf_config_from_env */
    char *secret_key;   /* secret; NULL when unset or empty */
    char *fernet_keys;  /* secret; comma-separated; NULL when unset or empty */
    char *listen;
    wf_log_level log_level;
    wf_log_format log_format;
} wf_config;

/* Reads the variables above from the process environment. An unknown LOG_LEVEL or
 * LOG_FORMAT is WF_ERR_INVALID naming the variable. Free with wf_config_free. */
int wf_config_from_env(wf_config *c, wf_err *err);
void wf_config_free(wf_config *c);

/* Writes url with any password replaced: "postgresql://user:***@host:5432/db".
 * URLs without a password (and sqlite: paths) are copied unchanged. A `password=`
 * parameter in the query string is masked too. */
int wf_config_redact_db_url(const char *url, wf_buf *out);
/* Appends a secret taken from a DATABASE_URL as the database library reads it:
 * percent-decoded, or without the quotes and backslashes of a libpq key='value'. */
void wf_config_decode_secret(const char *s, size_t len, wf_buf *out);
/* Registers every password of a database URL with the log's redaction list, as written
 * and as the database library reads it (db_url.c). */
void wf_config_register_db_url(const char *url);

/* The engines the environment declares (envp as from `environ`):
 *   N8N_API_URL, N8N_API_KEY                         -> n8n-default
 *   PREFECT_API_URL, PREFECT_API_KEY                  -> prefect-default
 *   WINDMILL_API_URL, WINDMILL_API_KEY, WINDMILL_WORKSPACE -> windmill-default
 *   WFREG_ENGINE_<NAME>={"engine_type","api_url","api_key","config"}
 *       -> <name>: NAME lowercased, '_' becoming '-' (a "name" member overrides)
 * Each engine is validated with the same rules as a written one; an invalid one is
 * logged at error level (without its key) and skipped, and counted in *ninvalid.
 * Records come back with source WF_SOURCE_ENVIRONMENT, key in api_key_env, key_status
 * OK or NONE, sorted by name. Free each with wf_engine_free and the array with free. */
int wf_config_env_engines(char *const *envp, wf_engine ***out, size_t *n, size_t *ninvalid,
                          wf_err *err);

#endif
