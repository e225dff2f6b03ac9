# cmake -DWARDEN=path/to/warden -DIN=warden.conf.5.in -DOUT=warden.conf.5 -P manconf.cmake
# Replaces @KEYS@ in IN with one groff .TP entry per line pair of `warden --help`:
#   "  --section.key=default" then "      help text".
execute_process(COMMAND ${WARDEN} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${WARDEN} --help failed: ${rc}")
endif()
string(REPLACE "\\" "\\e" help "${help}")
string(REGEX REPLACE "\n  --([^=\n]+)=([^\n]*)\n      ([^\n]*)" "\n.TP\n.BR \\1 \" = \\2\"\n\\3" keys "${help}")
string(REGEX REPLACE "^[^\n]*\n\nkeys \\(default\\):" "" keys "${keys}")
# long lists (notify.deny's default) may break after each comma
string(REPLACE "," ",\\:" keys "${keys}")
file(READ ${IN} page)
string(REPLACE "@KEYS@" "${keys}" page "${page}")
file(WRITE ${OUT} "${page}")
