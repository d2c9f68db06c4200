#!/bin/sh
# embed.sh SOURCE OUTPUT NAME INCLUDE_DIR: compile one compute shader and write it as Swift source.
set -eu
src=$1 out=$2 name=$3 inc=$4
command -v glslc >/dev/null || { echo "error: glslc not found (apt-get install glslc)" >&2; exit 1; }
spv="$out.spv"
glslc --target-env=vulkan1.2 -O -I "$inc" -o "$spv" "$src"
# Base64 in a string literal compiles far faster than a large array literal.
{
  echo "// Generated from Shaders/$(basename "$inc")/$(basename "$src") by the ShaderCompiler plugin. Do not edit."
  echo "import SloMoGPU"
  echo "extension ShaderSource {"
  printf '    static let %s = ShaderSource(name: "%s", spirvBase64: "' "$name" "$name"
  base64 -w0 "$spv"
  echo '")'
  echo "}"
} > "$out.tmp"
mv "$out.tmp" "$out"
rm -f "$spv"
