# Writes OUTPUT, a C++ source defining vigil::net::openapi_json() and
# asyncapi_json() from the files OPENAPI and ASYNCAPI (docs/api), so the server
# serves the description it was built with. Run by src/CMakeLists.txt:
#   cmake -DOPENAPI=… -DASYNCAPI=… -DOUTPUT=… -P embed_api_description.cmake
file(READ ${OPENAPI} openapi)
file(READ ${ASYNCAPI} asyncapi)
foreach(text IN ITEMS openapi asyncapi)
  string(FIND "${${text}}" ")vigil_api\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${text} contains the raw string's delimiter")
  endif()
endforeach()
file(WRITE ${OUTPUT}.new "// Generated from docs/api by cmake/embed_api_description.cmake: do not edit.
#include \"net/api_description.hpp\"

namespace vigil::net {

std::string_view openapi_json() {
    static constexpr char text[] = R\"vigil_api(${openapi})vigil_api\";
    return {text, sizeof text - 1};
}

std::string_view asyncapi_json() {
    static constexpr char text[] = R\"vigil_api(${asyncapi})vigil_api\";
    return {text, sizeof text - 1};
}

}  // namespace vigil::net
")
file(COPY_FILE ${OUTPUT}.new ${OUTPUT} ONLY_IF_DIFFERENT)
