# logs, exec, stats, top, port, health checks, restart policies and stop's escalation end to end
# (root): the built binary against a busybox-static image imported into a temp --root.
berth_test(engine_ops_e2e_test SOURCES ops_test.cc LIBS berth_base LABELS root)
if(TARGET engine_ops_e2e_test)
  target_compile_definitions(engine_ops_e2e_test PRIVATE BERTH_BIN="$<TARGET_FILE:berth>")
  add_dependencies(engine_ops_e2e_test berth)
endif()
