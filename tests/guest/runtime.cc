// What a freestanding C++ program still needs: the memory functions GCC and Clang may emit
// calls to. String instructions at ring 3 run natively; they also keep the compiler from
// turning these loops back into calls to themselves.
#include <stddef.h>

extern "C" {

void* memset(void* dest, int value, size_t n) {
    void* d = dest;
    asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(value) : "memory");
    return dest;
}

void* memcpy(void* dest, const void* src, size_t n) {
    void* d = dest;
    asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dest;
}

void* memmove(void* dest, const void* src, size_t n) {
    auto* d = static_cast<unsigned char*>(dest);
    const auto* s = static_cast<const unsigned char*>(src);
    if (d <= s || d >= s + n) {
        return memcpy(dest, src, n);
    }
    // Overlapping with dest above src: copy backwards.
    unsigned char* d_last = d + n - 1;
    const unsigned char* s_last = s + n - 1;
    asm volatile("std\n\trep movsb\n\tcld" : "+D"(d_last), "+S"(s_last), "+c"(n) : : "memory");
    return dest;
}

int memcmp(const void* a, const void* b, size_t n) {
    const auto* x = static_cast<const unsigned char*>(a);
    const auto* y = static_cast<const unsigned char*>(b);
    for (size_t i = 0; i < n; ++i) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}

}  // extern "C"
