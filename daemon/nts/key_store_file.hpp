// key_store_file.hpp - the NTS master key file on disk (format: key_store.hpp).
//
// The I/O edge of the key store: the NTS-KE host saves the set after every
// rotation, NTP servers (on the same host or others sharing the file) load
// it at start and reload it to pick up new keys.
//   * save: written to a temporary file in the same directory, created with
//     mode 0600, fsync'd, renamed over the old file, and the directory
//     fsync'd, so a reader sees the old set or the new one, never a mix, and
//     a crash leaves one of them;
//   * load: a file that cannot be read or does not decode is an error that
//     names the file, the line and the reason; the caller's store is
//     untouched (it only replaces its store with a loaded one).
#pragma once

#include <string>

#include "nts/key_store.hpp"

namespace nts {

// "<path>: <reason>" or "<path>:<line>: <reason>".
using KeyFileMessage = std::string;

Result<KeyStore, KeyFileMessage> load_key_store(const std::string& path);
Result<bool, KeyFileMessage> save_key_store(const KeyStore& store, const std::string& path);

}  // namespace nts
