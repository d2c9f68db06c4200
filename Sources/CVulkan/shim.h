#ifndef SLOMO_CVULKAN_SHIM_H
#define SLOMO_CVULKAN_SHIM_H
#include <vulkan/vulkan.h>

// VK_MAKE_API_VERSION is a function-like macro, which Swift cannot import.
static inline uint32_t slomo_vk_make_api_version(uint32_t variant, uint32_t major, uint32_t minor, uint32_t patch) {
    return VK_MAKE_API_VERSION(variant, major, minor, patch);
}
// VK_API_VERSION_MAJOR/MINOR are macros too; used to report device API versions.
static inline uint32_t slomo_vk_api_version_major(uint32_t v) { return VK_API_VERSION_MAJOR(v); }
static inline uint32_t slomo_vk_api_version_minor(uint32_t v) { return VK_API_VERSION_MINOR(v); }
#endif
