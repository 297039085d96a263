#include "cmdline.h"

namespace guest {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n';
}

}  // namespace

bool Word::is(const char* literal) const {
    size_t i = 0;
    for (; i < length; ++i) {
        if (literal[i] != text[i]) {  // also stops at literal's NUL
            return false;
        }
    }
    return literal[i] == '\0';
}

bool Word::has_prefix(const char* prefix, Word* rest) const {
    size_t i = 0;
    for (; prefix[i] != '\0'; ++i) {
        if (i == length || prefix[i] != text[i]) {
            return false;
        }
    }
    rest->text = text + i;
    rest->length = length - i;
    return true;
}

bool Words::next(Word* word) {
    while (is_space(*next_)) {
        ++next_;
    }
    if (*next_ == '\0') {
        return false;
    }
    word->text = next_;
    while (*next_ != '\0' && !is_space(*next_)) {
        ++next_;
    }
    word->length = static_cast<size_t>(next_ - word->text);
    return true;
}

bool parse_decimal(const Word& word, uint64_t max, uint64_t* value) {
    if (word.length == 0) {
        return false;
    }
    uint64_t result = 0;
    for (size_t i = 0; i < word.length; ++i) {
        char c = word.text[i];
        if (c < '0' || c > '9') {
            return false;
        }
        auto digit = static_cast<uint64_t>(c - '0');
        if (digit > max || result > (max - digit) / 10) {
            return false;
        }
        result = result * 10 + digit;
    }
    *value = result;
    return true;
}

}  // namespace guest
