# Doxygen's input filter for pmr.h (Doxyfile.in): pmr.h documents each call
# in the plain C comment above it; these become Doxygen comments, and the
# header's opening comment the file's description.
1s|^/\*$|/** \\file|
s|^\( *\)/\* |\1/** |
# '\n', '\r', '\t' in the comments are characters, not Doxygen commands.
s|\\\([nrt0]\)|\\\\\1|g
