// SHA-256 of a file, as lowercase hex (OpenSSL). Used to verify downloaded models.
#pragma once

#include <string>

namespace pagoda {

std::string sha256_file_hex(const std::string& path);  // throws pagoda::Error

}  // namespace pagoda
