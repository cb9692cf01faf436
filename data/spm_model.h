/* data/spm_model.h: the piece table of a sentencepiece model file (a protobuf ModelProto), read
 * without the C++ library: enough to decode ids to text and to find the special pieces. */
#ifndef DLCM_DATA_SPM_MODEL_H
#define DLCM_DATA_SPM_MODEL_H

#include <stdint.h>

/* sentencepiece's SentencePiece.Type values. */
enum {
    SPM_NORMAL = 1,
    SPM_UNKNOWN = 2,
    SPM_CONTROL = 3,
    SPM_USER_DEFINED = 4,
    SPM_UNUSED = 5,
    SPM_BYTE = 6
};

typedef struct {
    char **pieces; /* UTF-8 text of each piece, NUL-terminated */
    int *types;    /* SPM_* per piece */
    uint32_t count;
} SpmModel;

/* Reads path; 0, or -1 with a message naming the file and the malformed field. */
int spm_model_load(const char *path, SpmModel *model, char *err, int errlen);
void spm_model_free(SpmModel *model);
/* Id of the piece with exactly this text, or -1. */
int32_t spm_model_find(const SpmModel *model, const char *piece);

#endif
