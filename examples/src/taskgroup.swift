// taskgroup — a Swift program with a task group: child tasks on the cooperative pool's
// threads build arrays and strings and dictionaries; the sums are printed in order.
@main struct TaskGroupWork {
    static func main() async {
        let sums = await withTaskGroup(of: (Int, Int).self) { group in
            for id in 0..<8 {
                group.addTask {
                    var words: [String: Int] = [:]
                    for i in 0..<5000 { words["w\(i % 300)-\(id)", default: 0] += i }
                    return (id, words.values.reduce(0, +))
                }
            }
            var result = [Int](repeating: 0, count: 8)
            for await (id, sum) in group { result[id] = sum }
            return result
        }
        for (id, sum) in sums.enumerated() { print("task \(id): \(sum)") }
    }
}
