/* data/manifest.c: parsing and validating data/sources.tsv, and the include/exclude globs
 * that pick archive members. */
#include "data/manifest.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *known_methods[] = {"gutenberg", "sotu",  "brown",   "mail",    "fortune",
                                      "sword",     "dictd", "webster", "wordnet", "rst",
                                      "pod",       "html",  "man"};

static int copy_field(char *dst, size_t cap, const char *value, const char *path, int line,
                      const char *field, char *err, int errlen)
{
    if (strlen(value) >= cap || value[0] == '\0') {
        snprintf(err, errlen, "%s: line %d: field %s is empty or longer than %zu characters", path,
                 line, field, cap - 1);
        return -1;
    }
    snprintf(dst, cap, "%s", value);
    return 0;
}

int manifest_read(const char *path, Source **sources, int *count, char *err, int errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    Source *list = NULL;
    int n = 0, cap = 0, line_no = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line_no++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n') line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        char *fields[11];
        int nf = 0;
        for (char *p = line; nf < 11;) {
            fields[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = '\0';
            p = tab + 1;
        }
        if (nf != 11) {
            snprintf(err, errlen,
                     "%s: line %d: %d tab-separated fields, expected 11 (id domain "
                     "registry package version file sha256 licence method include "
                     "exclude)",
                     path, line_no, nf);
            goto fail;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            Source *grown = realloc(list, (size_t)cap * sizeof *grown);
            if (!grown) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            list = grown;
        }
        Source *s = &list[n];
        memset(s, 0, sizeof *s);
        if (copy_field(s->id, sizeof s->id, fields[0], path, line_no, "id", err, errlen) ||
            copy_field(s->package, sizeof s->package, fields[3], path, line_no, "package", err,
                       errlen) ||
            copy_field(s->version, sizeof s->version, fields[4], path, line_no, "version", err,
                       errlen) ||
            copy_field(s->file, sizeof s->file, fields[5], path, line_no, "file", err, errlen) ||
            copy_field(s->sha256, sizeof s->sha256, fields[6], path, line_no, "sha256", err,
                       errlen) ||
            copy_field(s->licence, sizeof s->licence, fields[7], path, line_no, "licence", err,
                       errlen) ||
            copy_field(s->method, sizeof s->method, fields[8], path, line_no, "method", err,
                       errlen) ||
            copy_field(s->include, sizeof s->include, fields[9], path, line_no, "include", err,
                       errlen) ||
            copy_field(s->exclude, sizeof s->exclude, fields[10], path, line_no, "exclude", err,
                       errlen))
            goto fail;
        int domain = domain_parse(fields[1]);
        if (domain < 0) {
            snprintf(err, errlen,
                     "%s: line %d: field domain '%s' is not literature, "
                     "dictionary or technical",
                     path, line_no, fields[1]);
            goto fail;
        }
        s->domain = (Domain)domain;
        if (strcmp(fields[2], "deb") == 0)
            s->registry = REGISTRY_DEB;
        else if (strcmp(fields[2], "npm") == 0)
            s->registry = REGISTRY_NPM;
        else {
            snprintf(err, errlen, "%s: line %d: field registry '%s' is not deb or npm", path,
                     line_no, fields[2]);
            goto fail;
        }
        int hex_ok = strlen(s->sha256) == 64;
        for (int i = 0; hex_ok && i < 64; i++)
            hex_ok = isxdigit((unsigned char)s->sha256[i]) && !isupper((unsigned char)s->sha256[i]);
        if (!hex_ok) {
            snprintf(err, errlen, "%s: line %d: field sha256 is not 64 lowercase hex digits", path,
                     line_no);
            goto fail;
        }
        int method_ok = 0;
        for (size_t m = 0; m < sizeof known_methods / sizeof known_methods[0]; m++)
            method_ok |= strcmp(s->method, known_methods[m]) == 0;
        if (!method_ok) {
            snprintf(err, errlen, "%s: line %d: field method '%s' is unknown", path, line_no,
                     s->method);
            goto fail;
        }
        if (strchr(s->file, '/')) {
            snprintf(err, errlen, "%s: line %d: field file must be a plain file name", path,
                     line_no);
            goto fail;
        }
        if (strcmp(s->exclude, "-") == 0) s->exclude[0] = '\0';
        for (int i = 0; i < n; i++) {
            if (strcmp(list[i].id, s->id) == 0) {
                snprintf(err, errlen, "%s: line %d: id %s appears twice", path, line_no, s->id);
                goto fail;
            }
        }
        n++;
    }
    fclose(f);
    if (n == 0) {
        snprintf(err, errlen, "%s: no sources", path);
        free(list);
        return -1;
    }
    *sources = list;
    *count = n;
    return 0;
fail:
    fclose(f);
    free(list);
    return -1;
}

/* Whether path matches any glob of a comma-separated list. */
static int matches_any(const char *globs, const char *path)
{
    char pattern[1024];
    const char *p = globs;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n > 0 && n < sizeof pattern) {
            memcpy(pattern, p, n);
            pattern[n] = '\0';
            if (fnmatch(pattern, path, 0) == 0) return 1;
        }
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

int source_wants(const Source *s, const char *member_path)
{
    return matches_any(s->include, member_path) && !matches_any(s->exclude, member_path);
}
