#ifndef SLOMO_CDRM_H
#define SLOMO_CDRM_H
// DRM/KMS UAPI for Swift, without libdrm. Debian's linux-libc-dev leaves out include/drm
// (libdrm-dev ships it), so the structs slomo uses are declared here with the kernel's exact
// layout (include/uapi/drm/drm.h and drm_mode.h, a stable ABI); the _Static_asserts pin the
// sizes the kernel's ioctl numbers encode. Function-like macros are
// re-exposed as prefixed static inlines.
#include <linux/ioctl.h>
#include <linux/types.h>
#include <sys/ioctl.h>

#define SLOMO_DRM_DISPLAY_MODE_LEN 32

struct slomo_drm_get_cap { __u64 capability; __u64 value; };
struct slomo_drm_set_client_cap { __u64 capability; __u64 value; };

struct slomo_drm_mode_modeinfo {
    __u32 clock;
    __u16 hdisplay, hsync_start, hsync_end, htotal, hskew;
    __u16 vdisplay, vsync_start, vsync_end, vtotal, vscan;
    __u32 vrefresh;
    __u32 flags;
    __u32 type;
    char name[SLOMO_DRM_DISPLAY_MODE_LEN];
};

struct slomo_drm_mode_card_res {
    __u64 fb_id_ptr, crtc_id_ptr, connector_id_ptr, encoder_id_ptr;
    __u32 count_fbs, count_crtcs, count_connectors, count_encoders;
    __u32 min_width, max_width, min_height, max_height;
};

struct slomo_drm_mode_crtc {
    __u64 set_connectors_ptr;
    __u32 count_connectors;
    __u32 crtc_id;
    __u32 fb_id;
    __u32 x, y;
    __u32 gamma_size;
    __u32 mode_valid;
    struct slomo_drm_mode_modeinfo mode;
};

struct slomo_drm_mode_get_encoder {
    __u32 encoder_id, encoder_type, crtc_id, possible_crtcs, possible_clones;
};

struct slomo_drm_mode_get_connector {
    __u64 encoders_ptr, modes_ptr, props_ptr, prop_values_ptr;
    __u32 count_modes, count_props, count_encoders;
    __u32 encoder_id, connector_id, connector_type, connector_type_id;
    __u32 connection, mm_width, mm_height, subpixel, pad;
};

struct slomo_drm_mode_fb_cmd2 {
    __u32 fb_id, width, height, pixel_format, flags;
    __u32 handles[4], pitches[4], offsets[4];
    __u64 modifier[4];
};

struct slomo_drm_mode_crtc_page_flip { __u32 crtc_id, fb_id, flags, reserved; __u64 user_data; };

struct slomo_drm_mode_create_dumb { __u32 height, width, bpp, flags, handle, pitch; __u64 size; };
struct slomo_drm_mode_map_dumb { __u32 handle, pad; __u64 offset; };
struct slomo_drm_mode_destroy_dumb { __u32 handle; };

// What read(2) on a card returns after a page flip with DRM_MODE_PAGE_FLIP_EVENT.
struct slomo_drm_event { __u32 type, length; };
struct slomo_drm_event_vblank {
    struct slomo_drm_event base;
    __u64 user_data;
    __u32 tv_sec, tv_usec, sequence, crtc_id;
};

_Static_assert(sizeof(struct slomo_drm_mode_modeinfo) == 68, "drm_mode_modeinfo ABI");
_Static_assert(sizeof(struct slomo_drm_mode_card_res) == 64, "drm_mode_card_res ABI");
_Static_assert(sizeof(struct slomo_drm_mode_crtc) == 104, "drm_mode_crtc ABI");
_Static_assert(sizeof(struct slomo_drm_mode_get_encoder) == 20, "drm_mode_get_encoder ABI");
_Static_assert(sizeof(struct slomo_drm_mode_get_connector) == 80, "drm_mode_get_connector ABI");
_Static_assert(sizeof(struct slomo_drm_mode_fb_cmd2) == 104, "drm_mode_fb_cmd2 ABI");
_Static_assert(sizeof(struct slomo_drm_mode_crtc_page_flip) == 24, "drm_mode_crtc_page_flip ABI");
_Static_assert(sizeof(struct slomo_drm_mode_create_dumb) == 32, "drm_mode_create_dumb ABI");
_Static_assert(sizeof(struct slomo_drm_mode_map_dumb) == 16, "drm_mode_map_dumb ABI");
_Static_assert(sizeof(struct slomo_drm_event_vblank) == 32, "drm_event_vblank ABI");

// DRM_IOCTL_* numbers are built with _IO/_IOW/_IOWR (function-like macros Swift cannot
// evaluate) from the 'd' base; these are the ones slomo's KMS output issues.
#define SLOMO_DRM_IOCTL_BASE 'd'
static inline unsigned long slomo_drm_ioctl_get_cap(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0x0c, struct slomo_drm_get_cap); }
static inline unsigned long slomo_drm_ioctl_set_client_cap(void) { return _IOW(SLOMO_DRM_IOCTL_BASE, 0x0d, struct slomo_drm_set_client_cap); }
static inline unsigned long slomo_drm_ioctl_set_master(void) { return _IO(SLOMO_DRM_IOCTL_BASE, 0x1e); }
static inline unsigned long slomo_drm_ioctl_drop_master(void) { return _IO(SLOMO_DRM_IOCTL_BASE, 0x1f); }
static inline unsigned long slomo_drm_ioctl_mode_getresources(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0xA0, struct slomo_drm_mode_card_res); }
static inline unsigned long slomo_drm_ioctl_mode_getcrtc(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0xA1, struct slomo_drm_mode_crtc); }
static inline unsigned long slomo_drm_ioctl_mode_setcrtc(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0xA2, struct slomo_drm_mode_crtc); }
static inline unsigned long slomo_drm_ioctl_mode_getencoder(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0xA6, struct slomo_drm_mode_get_encoder); }
static inline unsigned long slomo_drm_ioctl_mode_getconnector(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0xA7, struct slomo_drm_mode_get_connector); }
static inline unsigned long slomo_drm_ioctl_mode_rmfb(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0xAF, unsigned int); }
static inline unsigned long slomo_drm_ioctl_mode_page_flip(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0xB0, struct slomo_drm_mode_crtc_page_flip); }
static inline unsigned long slomo_drm_ioctl_mode_create_dumb(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0xB2, struct slomo_drm_mode_create_dumb); }
static inline unsigned long slomo_drm_ioctl_mode_map_dumb(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0xB3, struct slomo_drm_mode_map_dumb); }
static inline unsigned long slomo_drm_ioctl_mode_destroy_dumb(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0xB4, struct slomo_drm_mode_destroy_dumb); }
static inline unsigned long slomo_drm_ioctl_mode_addfb2(void) { return _IOWR(SLOMO_DRM_IOCTL_BASE, 0xB8, struct slomo_drm_mode_fb_cmd2); }

// Plain-integer UAPI constants import by themselves, but these live in the headers Debian
// leaves out, so they are restated with the kernel's values.
enum {
    SLOMO_DRM_CAP_DUMB_BUFFER = 0x1,
    SLOMO_DRM_EVENT_FLIP_COMPLETE = 0x02,
    SLOMO_DRM_MODE_TYPE_PREFERRED = 1 << 3,
    SLOMO_DRM_MODE_CONNECTED = 1,
    SLOMO_DRM_MODE_PAGE_FLIP_EVENT = 0x01,
};

// DRM fourccs are built with fourcc_code, a function-like macro; XRGB8888 is the one format
// every KMS driver scans out from dumb buffers.
static inline __u32 slomo_drm_format_xrgb8888(void) {
    return (__u32)'X' | ((__u32)'R' << 8) | ((__u32)'2' << 16) | ((__u32)'4' << 24);
}

#endif
