// barnes-hut (Hoard paper, Fig. 3d; Tables 2, 4, 5, 6), written from the paper's description:
// a hierarchical n-body solver (Barnes & Hut, Nature 1986) run on 32,768 bodies for 20 steps.
// Each step the main thread builds an octree of the bodies, a node allocated with `new` at a
// time, and computes each node's mass and centre of mass; then the threads share the force
// computation (thread i takes the i-th contiguous slice of the bodies, walks the tree and
// moves its bodies); then the tree is deleted. The allocator matters in the serial build and
// the frees, and in where it puts the nodes every thread then reads. Fixed work: the time at
// t threads against the time at 1 gives the speedup. Each body's force is computed the same way
// whatever the thread count, so every run of one seed does the same arithmetic.
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "workloads/random.h"
#include "workloads/thread_team.h"
#include "workloads/verify.h"
#include "workloads/workload.h"

namespace allocbench {
namespace {

constexpr double kSoftening2 = 1e-4;  // squared, so close encounters stay finite
constexpr double kTimeStep = 1e-3;
constexpr int kMaxDepth = 48;  // below this, bodies share a leaf instead of splitting further

struct Body {
  std::array<double, 3> position, velocity;
  double mass;
  int next_in_leaf;  // the next body in the same leaf, or -1
};

// An octree cell: a leaf holds a list of bodies, an inner node up to eight children.
struct Node {
  std::array<double, 3> centre;  // of the cube
  double half;                   // half its edge
  std::array<double, 3> mass_centre{};
  double mass = 0;
  int first_body = -1;  // a leaf's list; -1 for an inner node (or an empty leaf)
  bool leaf = true;
  std::array<Node*, 8> children{};
  // Verify mode stamps this tail when the node is made and checks it before the node is
  // deleted: a block the allocator also gave to another node would have it overwritten.
  unsigned char guard[16] = {};
};

int octant(const Node& node, const std::array<double, 3>& p) {
  return (p[0] > node.centre[0] ? 1 : 0) | (p[1] > node.centre[1] ? 2 : 0) |
         (p[2] > node.centre[2] ? 4 : 0);
}

class Tree {
 public:
  Tree(std::vector<Body>& bodies, ThreadStats& stats, const Verifier& verifier)
      : bodies_(bodies), stats_(stats), verifier_(verifier) {}
  ~Tree() { destroy(root_); }

  void build() {
    std::array<double, 3> low = bodies_[0].position, high = low;
    for (const Body& body : bodies_) {
      for (int d = 0; d < 3; ++d) {
        low[d] = std::min(low[d], body.position[d]);
        high[d] = std::max(high[d], body.position[d]);
      }
    }
    double half = 0;
    std::array<double, 3> centre;
    for (int d = 0; d < 3; ++d) {
      centre[d] = (low[d] + high[d]) / 2;
      half = std::max(half, (high[d] - low[d]) / 2);
    }
    root_ = make(centre, half * 1.0001 + 1e-12);
    for (int i = 0; i < static_cast<int>(bodies_.size()); ++i) insert(root_, i, 0);
    summarise(root_);
  }

  // The acceleration on body i: cells that look smaller than theta from it count as one body.
  std::array<double, 3> acceleration(int i, double theta) const {
    std::array<double, 3> acc{};
    const Body& me = bodies_[i];
    const Node* stack[8 * kMaxDepth + 8];
    int depth = 0;
    stack[depth++] = root_;
    while (depth > 0) {
      const Node* node = stack[--depth];
      if (node->mass == 0) continue;
      if (node->leaf) {
        for (int j = node->first_body; j >= 0; j = bodies_[j].next_in_leaf) {
          if (j != i) pull(acc, me.position, bodies_[j].position, bodies_[j].mass);
        }
        continue;
      }
      double d2 = 0;
      for (int d = 0; d < 3; ++d) {
        const double delta = node->mass_centre[d] - me.position[d];
        d2 += delta * delta;
      }
      const double size = 2 * node->half;
      if (size * size < theta * theta * d2) {
        pull(acc, me.position, node->mass_centre, node->mass);
      } else {
        for (const Node* child : node->children) {
          if (child != nullptr) stack[depth++] = child;
        }
      }
    }
    return acc;
  }

 private:
  static void pull(std::array<double, 3>& acc, const std::array<double, 3>& at,
                   const std::array<double, 3>& from, double mass) {
    std::array<double, 3> delta;
    double d2 = kSoftening2;
    for (int d = 0; d < 3; ++d) {
      delta[d] = from[d] - at[d];
      d2 += delta[d] * delta[d];
    }
    const double scale = mass / (d2 * std::sqrt(d2));
    for (int d = 0; d < 3; ++d) acc[d] += scale * delta[d];
  }

  Node* make(const std::array<double, 3>& centre, double half) {
    Node* node = new Node{.centre = centre, .half = half};
    verifier_.stamp(node->guard, sizeof(node->guard), 0);
    stats_.on_alloc(sizeof(Node));
    return node;
  }

  void destroy(Node* node) {
    if (node == nullptr) return;
    for (Node* child : node->children) destroy(child);
    verifier_.check(node->guard, sizeof(node->guard), 0);
    delete node;
    stats_.on_free(sizeof(Node));
  }

  Node* child_for(Node* node, int which) {
    if (node->children[which] == nullptr) {
      const double h = node->half / 2;
      std::array<double, 3> centre = node->centre;
      for (int d = 0; d < 3; ++d) centre[d] += (which >> d & 1) ? h : -h;
      node->children[which] = make(centre, h);
    }
    return node->children[which];
  }

  void insert(Node* node, int i, int depth) {
    while (!node->leaf) {
      node = child_for(node, octant(*node, bodies_[i].position));
      ++depth;
    }
    if (node->first_body < 0 || depth >= kMaxDepth) {
      bodies_[i].next_in_leaf = node->first_body;
      node->first_body = i;
      return;
    }
    // An occupied leaf splits: its body moves down, then the new one goes in.
    const int resident = node->first_body;
    node->first_body = -1;
    node->leaf = false;
    bodies_[resident].next_in_leaf = -1;
    insert(child_for(node, octant(*node, bodies_[resident].position)), resident, depth + 1);
    insert(node, i, depth);
  }

  void summarise(Node* node) {
    std::array<double, 3> weighted{};
    double mass = 0;
    if (node->leaf) {
      for (int j = node->first_body; j >= 0; j = bodies_[j].next_in_leaf) {
        mass += bodies_[j].mass;
        for (int d = 0; d < 3; ++d) weighted[d] += bodies_[j].mass * bodies_[j].position[d];
      }
    } else {
      for (Node* child : node->children) {
        if (child == nullptr) continue;
        summarise(child);
        mass += child->mass;
        for (int d = 0; d < 3; ++d) weighted[d] += child->mass * child->mass_centre[d];
      }
    }
    node->mass = mass;
    for (int d = 0; d < 3; ++d) node->mass_centre[d] = mass > 0 ? weighted[d] / mass : 0;
  }

  std::vector<Body>& bodies_;
  ThreadStats& stats_;
  const Verifier& verifier_;
  Node* root_ = nullptr;
};

// Bodies uniform in the unit cube, at rest, of equal mass.
std::vector<Body> initial_bodies(uint64_t count, uint64_t seed) {
  FastRandom random(seed);
  std::vector<Body> bodies(count);
  for (Body& body : bodies) {
    for (int d = 0; d < 3; ++d) {
      body.position[d] = static_cast<double>(random.below(1u << 30)) / (1u << 30);
      body.velocity[d] = 0;
    }
    body.mass = 1.0 / static_cast<double>(count);
    body.next_in_leaf = -1;
  }
  return bodies;
}

Outcome run_barnes_hut(const RunContext& context) {
  const uint64_t count = context.params.get_uint("bodies");
  const uint64_t steps = context.params.get_uint("steps");
  const double theta = context.params.get("theta");
  std::vector<Body> bodies = initial_bodies(count, context.params.get_uint("seed"));
  std::vector<std::array<double, 3>> accelerations(count);
  const Verifier verifier{context.verify, "barnes-hut"};
  const auto began = std::chrono::steady_clock::now();
  for (uint64_t step = 0; step < steps; ++step) {
    Tree tree(bodies, context.stats.slot(0), verifier);
    tree.build();
    run_team(context.threads, [&](int index) {
      const uint64_t begin = count * index / context.threads;
      const uint64_t end = count * (index + 1) / context.threads;
      for (uint64_t i = begin; i < end; ++i) {
        accelerations[i] = tree.acceleration(static_cast<int>(i), theta);
      }
    });
    // The tree reads positions until every force is known; then each body moves.
    for (uint64_t i = 0; i < count; ++i) {
      for (int d = 0; d < 3; ++d) {
        bodies[i].velocity[d] += kTimeStep * accelerations[i][d];
        bodies[i].position[d] += kTimeStep * bodies[i].velocity[d];
      }
    }
  }
  return {seconds_since(began)};
}

}  // namespace

const Workload kBarnesHut = {
    .name = "barnes-hut",
    .summary = "n-body solver: octree built with new each step, threads share the forces",
    .params =
        {
            {"bodies", 4096, 2, 1e8, true, "bodies (paper: 32,768; 4,096 for quick runs)"},
            {"steps", 4, 1, 1e6, true, "time steps, a tree each (paper: 20; 4 for quick runs)"},
            {"theta", 0.5, 0, 2, false,
             "opening angle: cells smaller than theta x distance count as one body "
             "(Barnes & Hut's usual 0.5)"},
            {"seed", 2000, 0, 1e15, true, "random seed of the initial positions"},
        },
    .slots_per_thread = 1,
    .run = run_barnes_hut,
    .check = nullptr,
};

}  // namespace allocbench
