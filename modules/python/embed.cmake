# embed.cmake: write IN as a NUL-terminated C char array NAME into OUT.
#   cmake -DIN=file.py -DOUT=file.h -DNAME=symbol -P embed.cmake
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" body "${body}")
file(WRITE "${OUT}.tmp"
  "/* Generated from ${IN} by embed.cmake: do not edit. */\n"
  "static const char ${NAME}[] = {\n${body}0x00\n};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
