# Generates a .cc defining berth::runtime::DockerDefaultSeccompJson() from default_seccomp.json.
# cmake -DIN=default_seccomp.json -DOUT=default_seccomp_json.cc -P embed.cmake
file(READ "${IN}" content)
string(FIND "${content}" ")berth_json\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )berth_json\"")
endif()
file(WRITE "${OUT}"
  "// Generated from default_seccomp.json by embed.cmake; do not edit.\n"
  "// moby profiles/seccomp/default.json, Copyright Docker, Inc., Apache License 2.0.\n"
  "#include \"runtime/plan/seccomp.h\"\n\n"
  "namespace berth::runtime {\n\n"
  "std::string_view DockerDefaultSeccompJson() {\n"
  "  static constexpr char kJson[] = R\"berth_json(${content})berth_json\";\n"
  "  return std::string_view(kJson, sizeof(kJson) - 1);\n"
  "}\n\n"
  "}  // namespace berth::runtime\n")
