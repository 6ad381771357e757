# Logs, health checks, restart policies and stats (the operational half of `berth run`): unit
# tests (included by CMakeLists.txt).
berth_test(engine_ops_test
  SOURCES logs_test.cc health_test.cc restart_test.cc stats_test.cc ops_extensions_test.cc
  LIBS berth_engine)
