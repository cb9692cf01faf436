/* data/manifest.h: data/sources.tsv, the list of corpus sources with exact package versions,
 * checksums, licences and extraction rules. */
#ifndef DLCM_DATA_MANIFEST_H
#define DLCM_DATA_MANIFEST_H

#include "data/corpus.h"

typedef enum { REGISTRY_DEB, REGISTRY_NPM } Registry;

typedef struct {
    char id[32];
    Domain domain;
    Registry registry;
    char package[128], version[128], file[256], sha256[65], licence[128], method[32];
    char include[1024], exclude[1024]; /* comma-separated globs; "" for none */
} Source;

/* Reads the manifest; 0, or -1 with err naming the file, line and field. *sources is
 * malloc'ed. */
int manifest_read(const char *path, Source **sources, int *count, char *err, int errlen);

/* Whether an archive member path matches the source's include and none of its excludes. */
int source_wants(const Source *s, const char *member_path);

#endif
