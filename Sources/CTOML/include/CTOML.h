#ifndef TRIBUTARY_CTOML_H
#define TRIBUTARY_CTOML_H

#ifdef __cplusplus
extern "C" {
#endif

/// Parses TOML `text` with toml++ and returns the same document as JSON (malloc'd; the
/// caller frees it). On a syntax error returns NULL and sets `*error` to a malloc'd message
/// with the line and column.
char *tributary_toml_to_json(const char *text, char **error);

#ifdef __cplusplus
}
#endif

#endif
