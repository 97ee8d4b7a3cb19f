#pragma once
#include <string>

namespace zm::cli {

// What --version prints: zipmedic's version, then the libraries that read the archives, each as
// the library loaded at run time says it is (a shared library may be newer than the one built
// against), one a line.
std::string version_text();

}  // namespace zm::cli
