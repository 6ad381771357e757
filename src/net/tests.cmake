# Unit tests run anywhere; network_root_test needs root, nf_tables and network namespaces.
berth_test(net_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/publish_test.cc
           ${CMAKE_CURRENT_SOURCE_DIR}/plan_test.cc
           ${CMAKE_CURRENT_SOURCE_DIR}/netlink_test.cc LIBS berth_net PkgConfig::MNL)
berth_test(net_root_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/network_root_test.cc
           LIBS berth_net LABELS root)
