// The command line as space-separated words, and the little parsing the modes need.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace guest {

struct Word {
    const char* text = nullptr;
    size_t length = 0;

    bool is(const char* literal) const;
    // If the word is "<prefix><rest>", stores rest and returns true.
    bool has_prefix(const char* prefix, Word* rest) const;
};

class Words {
  public:
    explicit Words(const char* cmdline) : next_(cmdline) {}
    // The next word, skipping spaces and tabs; false at the end.
    bool next(Word* word);

  private:
    const char* next_;
};

// A decimal number of at most max; false if the word is empty, not all digits, or too big.
bool parse_decimal(const Word& word, uint64_t max, uint64_t* value);

}  // namespace guest
