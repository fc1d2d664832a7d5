// tests/documented_sizes_test.cpp — the sizes the READMEs and decks quote are the sizes the code has.
// 04's and 05's READMEs explain memory per idle connection from sizeof(Connection); when a field is
// added, this fails and names the documents to update (scripts/check-docs keeps them agreeing).
#include "04-select/connection_table.hpp"
#include "05-epoll-pool/connection_pool.hpp"

#include <gtest/gtest.h>

namespace {

TEST(DocumentedSizes, SelectConnectionIs120Bytes) {
    EXPECT_EQ(sizeof(lesson04::Connection), 120u) << "04-select/README.md (Limits: memory per client) says 120";
}

TEST(DocumentedSizes, EpollConnectionIs136BytesIn144ByteHeapBlock) {
    EXPECT_EQ(sizeof(lesson05::Connection), 136u)
        << "05-epoll-pool/README.md (The pool, Limits, Measured) and slides/decks/05-epoll-pool.md say 136 bytes, "
           "a 144-byte heap block";
}

}  // namespace
