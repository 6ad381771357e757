# Tests of docker's flags (run_options), the passwd/group lookups and the OCI spec generation,
# and of the CLI binding of `berth run`'s flags. Pure: no root, no network.
berth_test(engine_spec_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/run_options_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/user_db_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/spec_gen_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/host_info_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/rootless_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/layered_rootfs_test.cc
  LIBS berth_engine)
berth_test(cli_run_flags_test
  SOURCES ${CMAKE_SOURCE_DIR}/src/cli/run_flags.cc ${CMAKE_SOURCE_DIR}/src/cli/run_flags_test.cc
  LIBS berth_engine CLI11::CLI11)
