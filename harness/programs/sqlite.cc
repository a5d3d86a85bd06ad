// sqlite3's input: a shop's customers and orders, inserted, indexed, joined, updated, deleted.
#include <fmt/format.h>

#include "harness/programs/inputs.h"

namespace allocbench::programs {

namespace {

constexpr const char* kCities[] = {"Amherst", "Austin",  "Berlin", "Boston", "Kyoto",
                                   "Lagos",   "Leipzig", "Lima",   "Oslo",   "Perth"};

std::string word(Lcg& random, int min_length, int max_length) {
  const int length = min_length + static_cast<int>(random.below(max_length - min_length + 1));
  std::string text;
  for (int i = 0; i < length; ++i) text += static_cast<char>('a' + random.below(26));
  return text;
}

}  // namespace

std::string sqlite_script(int64_t scale) {
  Lcg random(12);
  const int64_t customers = 100 * scale;
  const int64_t orders = 1000 * scale;
  std::string sql =
      "PRAGMA cache_size = -65536;\n"
      "CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, city TEXT, balance INTEGER);\n"
      "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, item TEXT, note TEXT,\n"
      "                    qty INTEGER, price INTEGER);\n"
      "BEGIN;\n";
  for (int64_t id = 1; id <= customers; ++id) {
    sql += fmt::format("INSERT INTO customer VALUES({}, '{}', '{}', {});\n", id,
                       word(random, 4, 12), kCities[random.below(10)], random.below(100000));
  }
  for (int64_t id = 1; id <= orders; ++id) {
    sql += fmt::format("INSERT INTO orders VALUES({}, {}, '{}', '{}', {}, {});\n", id,
                       1 + random.below(customers), word(random, 3, 10), word(random, 0, 120),
                       1 + random.below(20), 1 + random.below(5000));
  }
  sql += "COMMIT;\n";
  sql += R"(CREATE INDEX orders_by_customer ON orders(customer);
CREATE INDEX orders_by_item ON orders(item);
CREATE INDEX customer_by_city ON customer(city, balance);
SELECT city, count(*), sum(balance) FROM customer GROUP BY city ORDER BY city;
SELECT c.city, count(*), sum(o.qty * o.price) FROM orders o JOIN customer c ON c.id = o.customer
  GROUP BY c.city ORDER BY c.city;
SELECT substr(item, 1, 2) AS prefix, count(*), max(length(note)) FROM orders
  GROUP BY prefix ORDER BY count(*) DESC, prefix LIMIT 20;
BEGIN;
UPDATE orders SET qty = qty + 1, note = note || upper(item) WHERE id % 7 = 0;
UPDATE customer SET balance = balance - (SELECT ifnull(sum(qty), 0) FROM orders
  WHERE orders.customer = customer.id) WHERE id % 3 = 0;
DELETE FROM orders WHERE price > 4000 OR (qty > 15 AND id % 2 = 0);
COMMIT;
CREATE TABLE ranked AS SELECT customer, sum(qty * price) AS spent, group_concat(item, ' ') AS items
  FROM orders GROUP BY customer;
SELECT count(*), sum(qty), total(price), sum(length(note)) FROM orders;
SELECT c.name, r.spent, length(r.items) FROM ranked r JOIN customer c ON c.id = r.customer
  ORDER BY r.spent DESC, c.id LIMIT 25;
SELECT count(DISTINCT upper(item) || lower(note)) FROM orders;
VACUUM;
SELECT count(*) FROM customer WHERE name LIKE '%ab%';
)";
  return sql;
}

}  // namespace allocbench::programs
