# third_party/lua/lua.cmake: the include() entry point to the Lua recipe.
#
#     include(third_party/lua/lua.cmake)        # defines host::lua
#
# This does the same as add_subdirectory(third_party/lua). The recipe itself
# is CMakeLists.txt beside this file. It runs in its own directory scope, so
# what it changes for Lua's files (warning flags, no -Werror) never reaches
# the including scope. Including this file twice is harmless.

include_guard(GLOBAL)
if(NOT TARGET host::lua)
  add_subdirectory("${CMAKE_CURRENT_LIST_DIR}" "${CMAKE_BINARY_DIR}/third_party/lua")
endif()
