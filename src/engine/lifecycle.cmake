# Containers, rootfs, volumes and the monitor: tests and link rules (included by CMakeLists.txt).

# Monitor extensions register themselves (monitor.h: MonitorExtensionRegistration). Nothing
# references their objects, so in the static library the linker would drop them and their
# registrations; they are compiled as an object library whose objects every executable that
# links berth_engine gets in full.
file(GLOB MONITOR_EXT_SRCS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/health*.cc
     ${CMAKE_CURRENT_SOURCE_DIR}/restart*.cc ${CMAKE_CURRENT_SOURCE_DIR}/monitor_ext*.cc)
list(FILTER MONITOR_EXT_SRCS EXCLUDE REGEX "_test\\.cc$")
if(TARGET berth_engine AND MONITOR_EXT_SRCS)
  get_target_property(engine_srcs berth_engine SOURCES)
  list(REMOVE_ITEM engine_srcs ${MONITOR_EXT_SRCS})
  set_property(TARGET berth_engine PROPERTY SOURCES ${engine_srcs})
  add_library(berth_engine_ext OBJECT ${MONITOR_EXT_SRCS})
  target_link_libraries(berth_engine_ext PUBLIC berth_base berth_oci berth_runtime)
  if(TARGET berth_net)
    target_link_libraries(berth_engine_ext PUBLIC berth_net)
  endif()
  target_link_libraries(berth_engine INTERFACE $<TARGET_OBJECTS:berth_engine_ext>)
  add_dependencies(berth_engine berth_engine_ext)
endif()

berth_test(engine_container_test SOURCES container_test.cc commit_test.cc rootfs_test.cc LIBS berth_engine)
