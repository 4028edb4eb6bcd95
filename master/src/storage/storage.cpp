#include "storage/storage.hpp"

#include <utility>

namespace remsh::master {

StorageError::StorageError(std::string error_tag, const std::string& message)
    : std::runtime_error(message), tag(std::move(error_tag)) {}

void Storage::in_transaction(const std::function<void()>& fn) {
    Transaction tx(*this);
    fn();
    tx.commit();
}

Transaction::Transaction(Storage& storage) : storage_(&storage) { storage.begin_transaction(); }

Transaction::~Transaction() {
    if (storage_ != nullptr) {
        try {
            storage_->rollback_transaction();
        } catch (...) {
            // A destructor must not throw; the backend has closed the level either way.
        }
    }
}

void Transaction::commit() {
    if (storage_ == nullptr) {
        throw StorageError(storage_tag::error, "transaction already finished");
    }
    std::exchange(storage_, nullptr)->commit_transaction();
}

void Transaction::rollback() {
    if (storage_ == nullptr) {
        throw StorageError(storage_tag::error, "transaction already finished");
    }
    std::exchange(storage_, nullptr)->rollback_transaction();
}

}  // namespace remsh::master
