/* The words of a line, as pmr-wordcount splits them (DESIGN.md, fixed): by
 * default a word is a maximal run of bytes that are not ASCII whitespace
 * (space, \t \n \v \f \r), exactly Python's bytes.split(); with `letters`
 * a word is a maximal run of ASCII letters. Shared by the applications that
 * tokenise text, so that they agree on what a word is. */
#ifndef PMR_WORDS_H
#define PMR_WORDS_H

#include <stddef.h>

/* sep[c] = 1 for the bytes that end a word. */
static inline void pmr_words_table(unsigned char sep[256], int letters) {
  for (int c = 0; c < 256; c++) {
    int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    sep[c] = letters ? !letter
                     : (c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
                        c == '\f' || c == '\r');
  }
}

/* The next word in [*p, e): sets *w and returns its length, and moves *p
 * past it; returns 0 when no word is left. */
static inline size_t pmr_words_next(const unsigned char **p,
                                    const unsigned char *e,
                                    const unsigned char sep[256],
                                    const unsigned char **w) {
  const unsigned char *q = *p;
  while (q < e && sep[*q])
    q++;
  *w = q;
  while (q < e && !sep[*q])
    q++;
  *p = q;
  return (size_t)(q - *w);
}

#endif
