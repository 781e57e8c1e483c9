#pragma once
// CRC-32C (Castagnoli), the checksum of TFRecord framing and of cnnbench's checkpoints.
#include <cstdint>
#include <string_view>

namespace cnnb {

// crc32c("123456789") == 0xE3069283. `crc` continues a previous result over more bytes.
uint32_t crc32c(std::string_view bytes, uint32_t crc = 0);

// TFRecord's masked form, so that a CRC stored inside CRC'd data does not weaken the check.
inline uint32_t mask_crc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace cnnb
