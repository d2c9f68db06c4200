#ifndef SLOMO_CFFMPEG_SHIM_H
#define SLOMO_CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/error.h>
#include <libavutil/channel_layout.h>

// AVERROR and AVERROR_EOF are function-like macros, which Swift cannot import.
static inline int slomo_averror(int e) { return AVERROR(e); }
static inline int slomo_averror_eof(void) { return AVERROR_EOF; }
// av_err2str uses a compound literal; expose a buffer-based form.
static inline const char *slomo_av_strerror(int e, char *buf, size_t size) {
    av_strerror(e, buf, size);
    return buf;
}
// AVERROR_INVALIDDATA and AV_NOPTS_VALUE are built from macros Swift cannot evaluate.
static inline int slomo_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int64_t slomo_nopts_value(void) { return AV_NOPTS_VALUE; }
#endif
