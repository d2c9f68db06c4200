#ifndef SLOMO_CV4L2_H
#define SLOMO_CV4L2_H
// V4L2 UAPI for Swift: the structs import as they are; what does not import (function-like
// macros) is re-exposed here as prefixed static inlines.
#include <linux/videodev2.h>
#include <sys/ioctl.h>

// v4l2_fourcc is a function-like macro, so neither it nor the V4L2_PIX_FMT_* codes built
// with it import; these are the codes slomo captures or writes, plus the macro itself.
static inline __u32 slomo_v4l2_fourcc(char a, char b, char c, char d) { return v4l2_fourcc(a, b, c, d); }
static inline __u32 slomo_v4l2_pix_fmt_yuyv(void) { return V4L2_PIX_FMT_YUYV; }
static inline __u32 slomo_v4l2_pix_fmt_uyvy(void) { return V4L2_PIX_FMT_UYVY; }
static inline __u32 slomo_v4l2_pix_fmt_nv12(void) { return V4L2_PIX_FMT_NV12; }
static inline __u32 slomo_v4l2_pix_fmt_yuv420(void) { return V4L2_PIX_FMT_YUV420; }
static inline __u32 slomo_v4l2_pix_fmt_yuv422p(void) { return V4L2_PIX_FMT_YUV422P; }
static inline __u32 slomo_v4l2_pix_fmt_rgb24(void) { return V4L2_PIX_FMT_RGB24; }
static inline __u32 slomo_v4l2_pix_fmt_bgr24(void) { return V4L2_PIX_FMT_BGR24; }
static inline __u32 slomo_v4l2_pix_fmt_xbgr32(void) { return V4L2_PIX_FMT_XBGR32; }
static inline __u32 slomo_v4l2_pix_fmt_mjpeg(void) { return V4L2_PIX_FMT_MJPEG; }
static inline __u32 slomo_v4l2_pix_fmt_jpeg(void) { return V4L2_PIX_FMT_JPEG; }
static inline __u32 slomo_v4l2_pix_fmt_yvu420(void) { return V4L2_PIX_FMT_YVU420; }
static inline __u32 slomo_v4l2_pix_fmt_nv21(void) { return V4L2_PIX_FMT_NV21; }
static inline __u32 slomo_v4l2_pix_fmt_nv16(void) { return V4L2_PIX_FMT_NV16; }
static inline __u32 slomo_v4l2_pix_fmt_nv61(void) { return V4L2_PIX_FMT_NV61; }
// The multi-planar forms: each colour plane in a buffer of its own (the M suffix).
static inline __u32 slomo_v4l2_pix_fmt_nv12m(void) { return V4L2_PIX_FMT_NV12M; }
static inline __u32 slomo_v4l2_pix_fmt_nv21m(void) { return V4L2_PIX_FMT_NV21M; }
static inline __u32 slomo_v4l2_pix_fmt_yuv420m(void) { return V4L2_PIX_FMT_YUV420M; }
static inline __u32 slomo_v4l2_pix_fmt_yvu420m(void) { return V4L2_PIX_FMT_YVU420M; }
static inline __u32 slomo_v4l2_pix_fmt_nv16m(void) { return V4L2_PIX_FMT_NV16M; }
static inline __u32 slomo_v4l2_pix_fmt_nv61m(void) { return V4L2_PIX_FMT_NV61M; }
static inline __u32 slomo_v4l2_pix_fmt_yuv422m(void) { return V4L2_PIX_FMT_YUV422M; }

// v4l2_pix_format_mplane.plane_fmt is a fixed array, a tuple in Swift: indexed access here.
static inline __u32 slomo_pix_mp_bytesperline(const struct v4l2_pix_format_mplane *f, unsigned plane) {
    return plane < VIDEO_MAX_PLANES ? f->plane_fmt[plane].bytesperline : 0;
}
static inline __u32 slomo_pix_mp_sizeimage(const struct v4l2_pix_format_mplane *f, unsigned plane) {
    return plane < VIDEO_MAX_PLANES ? f->plane_fmt[plane].sizeimage : 0;
}

// Every VIDIOC_* request number: each is built with _IOR/_IOW/_IOWR, function-like macros
// Swift cannot evaluate.
static inline unsigned long slomo_vidioc_querycap(void) { return VIDIOC_QUERYCAP; }
static inline unsigned long slomo_vidioc_enum_fmt(void) { return VIDIOC_ENUM_FMT; }
static inline unsigned long slomo_vidioc_g_fmt(void) { return VIDIOC_G_FMT; }
static inline unsigned long slomo_vidioc_s_fmt(void) { return VIDIOC_S_FMT; }
static inline unsigned long slomo_vidioc_reqbufs(void) { return VIDIOC_REQBUFS; }
static inline unsigned long slomo_vidioc_querybuf(void) { return VIDIOC_QUERYBUF; }
static inline unsigned long slomo_vidioc_g_fbuf(void) { return VIDIOC_G_FBUF; }
static inline unsigned long slomo_vidioc_s_fbuf(void) { return VIDIOC_S_FBUF; }
static inline unsigned long slomo_vidioc_overlay(void) { return VIDIOC_OVERLAY; }
static inline unsigned long slomo_vidioc_qbuf(void) { return VIDIOC_QBUF; }
static inline unsigned long slomo_vidioc_expbuf(void) { return VIDIOC_EXPBUF; }
static inline unsigned long slomo_vidioc_dqbuf(void) { return VIDIOC_DQBUF; }
static inline unsigned long slomo_vidioc_streamon(void) { return VIDIOC_STREAMON; }
static inline unsigned long slomo_vidioc_streamoff(void) { return VIDIOC_STREAMOFF; }
static inline unsigned long slomo_vidioc_g_parm(void) { return VIDIOC_G_PARM; }
static inline unsigned long slomo_vidioc_s_parm(void) { return VIDIOC_S_PARM; }
static inline unsigned long slomo_vidioc_g_std(void) { return VIDIOC_G_STD; }
static inline unsigned long slomo_vidioc_s_std(void) { return VIDIOC_S_STD; }
static inline unsigned long slomo_vidioc_enumstd(void) { return VIDIOC_ENUMSTD; }
static inline unsigned long slomo_vidioc_enuminput(void) { return VIDIOC_ENUMINPUT; }
static inline unsigned long slomo_vidioc_g_ctrl(void) { return VIDIOC_G_CTRL; }
static inline unsigned long slomo_vidioc_s_ctrl(void) { return VIDIOC_S_CTRL; }
static inline unsigned long slomo_vidioc_g_tuner(void) { return VIDIOC_G_TUNER; }
static inline unsigned long slomo_vidioc_s_tuner(void) { return VIDIOC_S_TUNER; }
static inline unsigned long slomo_vidioc_g_audio(void) { return VIDIOC_G_AUDIO; }
static inline unsigned long slomo_vidioc_s_audio(void) { return VIDIOC_S_AUDIO; }
static inline unsigned long slomo_vidioc_queryctrl(void) { return VIDIOC_QUERYCTRL; }
static inline unsigned long slomo_vidioc_querymenu(void) { return VIDIOC_QUERYMENU; }
static inline unsigned long slomo_vidioc_g_input(void) { return VIDIOC_G_INPUT; }
static inline unsigned long slomo_vidioc_s_input(void) { return VIDIOC_S_INPUT; }
static inline unsigned long slomo_vidioc_g_edid(void) { return VIDIOC_G_EDID; }
static inline unsigned long slomo_vidioc_s_edid(void) { return VIDIOC_S_EDID; }
static inline unsigned long slomo_vidioc_g_output(void) { return VIDIOC_G_OUTPUT; }
static inline unsigned long slomo_vidioc_s_output(void) { return VIDIOC_S_OUTPUT; }
static inline unsigned long slomo_vidioc_enumoutput(void) { return VIDIOC_ENUMOUTPUT; }
static inline unsigned long slomo_vidioc_g_audout(void) { return VIDIOC_G_AUDOUT; }
static inline unsigned long slomo_vidioc_s_audout(void) { return VIDIOC_S_AUDOUT; }
static inline unsigned long slomo_vidioc_g_modulator(void) { return VIDIOC_G_MODULATOR; }
static inline unsigned long slomo_vidioc_s_modulator(void) { return VIDIOC_S_MODULATOR; }
static inline unsigned long slomo_vidioc_g_frequency(void) { return VIDIOC_G_FREQUENCY; }
static inline unsigned long slomo_vidioc_s_frequency(void) { return VIDIOC_S_FREQUENCY; }
static inline unsigned long slomo_vidioc_cropcap(void) { return VIDIOC_CROPCAP; }
static inline unsigned long slomo_vidioc_g_crop(void) { return VIDIOC_G_CROP; }
static inline unsigned long slomo_vidioc_s_crop(void) { return VIDIOC_S_CROP; }
static inline unsigned long slomo_vidioc_g_jpegcomp(void) { return VIDIOC_G_JPEGCOMP; }
static inline unsigned long slomo_vidioc_s_jpegcomp(void) { return VIDIOC_S_JPEGCOMP; }
static inline unsigned long slomo_vidioc_querystd(void) { return VIDIOC_QUERYSTD; }
static inline unsigned long slomo_vidioc_try_fmt(void) { return VIDIOC_TRY_FMT; }
static inline unsigned long slomo_vidioc_enumaudio(void) { return VIDIOC_ENUMAUDIO; }
static inline unsigned long slomo_vidioc_enumaudout(void) { return VIDIOC_ENUMAUDOUT; }
static inline unsigned long slomo_vidioc_g_priority(void) { return VIDIOC_G_PRIORITY; }
static inline unsigned long slomo_vidioc_s_priority(void) { return VIDIOC_S_PRIORITY; }
static inline unsigned long slomo_vidioc_g_sliced_vbi_cap(void) { return VIDIOC_G_SLICED_VBI_CAP; }
static inline unsigned long slomo_vidioc_log_status(void) { return VIDIOC_LOG_STATUS; }
static inline unsigned long slomo_vidioc_g_ext_ctrls(void) { return VIDIOC_G_EXT_CTRLS; }
static inline unsigned long slomo_vidioc_s_ext_ctrls(void) { return VIDIOC_S_EXT_CTRLS; }
static inline unsigned long slomo_vidioc_try_ext_ctrls(void) { return VIDIOC_TRY_EXT_CTRLS; }
static inline unsigned long slomo_vidioc_enum_framesizes(void) { return VIDIOC_ENUM_FRAMESIZES; }
static inline unsigned long slomo_vidioc_enum_frameintervals(void) { return VIDIOC_ENUM_FRAMEINTERVALS; }
static inline unsigned long slomo_vidioc_g_enc_index(void) { return VIDIOC_G_ENC_INDEX; }
static inline unsigned long slomo_vidioc_encoder_cmd(void) { return VIDIOC_ENCODER_CMD; }
static inline unsigned long slomo_vidioc_try_encoder_cmd(void) { return VIDIOC_TRY_ENCODER_CMD; }
static inline unsigned long slomo_vidioc_dbg_s_register(void) { return VIDIOC_DBG_S_REGISTER; }
static inline unsigned long slomo_vidioc_dbg_g_register(void) { return VIDIOC_DBG_G_REGISTER; }
static inline unsigned long slomo_vidioc_s_hw_freq_seek(void) { return VIDIOC_S_HW_FREQ_SEEK; }
static inline unsigned long slomo_vidioc_s_dv_timings(void) { return VIDIOC_S_DV_TIMINGS; }
static inline unsigned long slomo_vidioc_g_dv_timings(void) { return VIDIOC_G_DV_TIMINGS; }
static inline unsigned long slomo_vidioc_dqevent(void) { return VIDIOC_DQEVENT; }
static inline unsigned long slomo_vidioc_subscribe_event(void) { return VIDIOC_SUBSCRIBE_EVENT; }
static inline unsigned long slomo_vidioc_unsubscribe_event(void) { return VIDIOC_UNSUBSCRIBE_EVENT; }
static inline unsigned long slomo_vidioc_create_bufs(void) { return VIDIOC_CREATE_BUFS; }
static inline unsigned long slomo_vidioc_prepare_buf(void) { return VIDIOC_PREPARE_BUF; }
static inline unsigned long slomo_vidioc_g_selection(void) { return VIDIOC_G_SELECTION; }
static inline unsigned long slomo_vidioc_s_selection(void) { return VIDIOC_S_SELECTION; }
static inline unsigned long slomo_vidioc_decoder_cmd(void) { return VIDIOC_DECODER_CMD; }
static inline unsigned long slomo_vidioc_try_decoder_cmd(void) { return VIDIOC_TRY_DECODER_CMD; }
static inline unsigned long slomo_vidioc_enum_dv_timings(void) { return VIDIOC_ENUM_DV_TIMINGS; }
static inline unsigned long slomo_vidioc_query_dv_timings(void) { return VIDIOC_QUERY_DV_TIMINGS; }
static inline unsigned long slomo_vidioc_dv_timings_cap(void) { return VIDIOC_DV_TIMINGS_CAP; }
static inline unsigned long slomo_vidioc_enum_freq_bands(void) { return VIDIOC_ENUM_FREQ_BANDS; }
static inline unsigned long slomo_vidioc_dbg_g_chip_info(void) { return VIDIOC_DBG_G_CHIP_INFO; }
static inline unsigned long slomo_vidioc_query_ext_ctrl(void) { return VIDIOC_QUERY_EXT_CTRL; }

#endif
