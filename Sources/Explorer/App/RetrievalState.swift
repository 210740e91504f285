import Annotations
import Catalog
import Retrieval

/// Which view fills the body of the screen.
public enum Screen: Sendable, Equatable {
    /// The dataset browser: sample list and preview.
    case browser
    /// Search results (or an inspected ranking file): ranked matches and the
    /// highlighted match's preview or attention summary.
    case results
}

/// The query bar: the caption being typed and the session's history.
public struct QueryBarState: Sendable, Equatable {
    /// The text being typed (raw: sanitised when drawn).
    public var text = ""
    /// Searches run this session, oldest first, without repeats in a row.
    public var history: [String] = []
    /// Position in `history` while walking it with up/down; nil on the line being typed.
    public var historyPosition: Int? = nil
    /// The line being typed before walking the history (restored past its newest end).
    public var draft = ""
    public init() {}
}

/// One row of the results pane.
public struct ResultRow: Sendable, Equatable {
    public var rank: Int
    public var sampleID: String
    /// Cosine similarity; nil for a ranking read from a file (the format has no scores).
    public var score: Float?
    /// Whether the match shares a label with the query; nil when the query has no labels.
    public var isRelevant: Bool?
    public init(rank: Int, sampleID: String, score: Float?, isRelevant: Bool?) {
        self.rank = rank; self.sampleID = sampleID; self.score = score; self.isRelevant = isRelevant
    }
}

/// How the matches are listed: by rank, by product label (then rank), or by id.
public enum ResultOrder: String, Sendable, Equatable, CaseIterable {
    case rank, label, id

    public var next: ResultOrder {
        let all = Self.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }
}

/// The attention summary of the highlighted match, as far as it has come back.
public enum AttentionSlot: Sendable, Equatable {
    case loading(match: String)
    case ready(match: String, AttentionSummary)
    case failed(match: String, String)

    public var match: String {
        switch self {
        case .loading(let m), .ready(let m, _), .failed(let m, _): return m
        }
    }
}

/// Where the retrieval engine is: opening (building the gallery index), ready, or unavailable.
public enum EngineStatus: Sendable, Equatable {
    /// Not asked for (no engine was configured).
    case unavailable(String)
    case opening
    case indexing(done: Int, total: Int)
    case ready(items: Int)
    case failed(String)
}

/// The ranked matches of the current query and everything about them.
public struct ResultsState: Sendable, Equatable {
    /// The query shown (nil before the first search).
    public var query: RetrievalQuery? = nil
    /// Bumped by every new search: results carrying an older one are stale and ignored.
    public var generation = 0
    /// Whether the search of `generation` is still running.
    public var searching = false
    public var rows: [ResultRow] = []
    /// The query's average precision (official definition) at the returned depth.
    public var averagePrecision: Double? = nil
    /// Which vectors ranked it: "zero-shot", a checkpoint, or "ranking file".
    public var model: String = ""
    public var seconds: Double = 0
    public var error: String? = nil
    /// Position of the highlighted row in `rows`, and the first row on screen.
    public var selected = 0
    public var scroll = 0
    /// Whether the right pane shows the attention summary (else the match's preview).
    public var showAttention = false
    /// Whether the right pane shows the query itself (its image, caption and labels).
    public var showQuery = false
    /// The order the matches are listed in (`o` cycles); a new search lists them by rank.
    public var order: ResultOrder = .rank
    /// The last text looked for among the matches (`/`), offered again.
    public var findText = ""
    /// Which map the attention pane draws: nil for the overall map, else a token's index.
    public var attentionToken: Int? = nil
    /// Bumped by every attention request; answers for an older one are ignored.
    public var attentionGeneration = 0
    public var attention: AttentionSlot? = nil
    public init() {}

    public var selectedRow: ResultRow? { selected >= 0 && selected < rows.count ? rows[selected] : nil }
}

/// One query of an inspected ranking file, with its official scores.
public struct InspectedQuery: Sendable, Equatable {
    /// 1-based line in the file.
    public var line: Int
    public var queryID: String
    /// Official AP at 10, 50 and 100 (0 where the script fails on the line).
    public var averagePrecision10: Double
    public var averagePrecision50: Double
    public var averagePrecision100: Double
    /// Why the official script skips part of this line, if it does.
    public var failure: String?
    public var rows: [ResultRow]
    public init(line: Int, queryID: String, averagePrecision10: Double, averagePrecision50: Double, averagePrecision100: Double,
                failure: String?, rows: [ResultRow]) {
        self.line = line; self.queryID = queryID; self.averagePrecision10 = averagePrecision10
        self.averagePrecision50 = averagePrecision50; self.averagePrecision100 = averagePrecision100
        self.failure = failure; self.rows = rows
    }
}

/// A ranking file loaded for inspection: its queries, worst AP@10 first.
public struct InspectSession: Sendable, Equatable {
    /// The file, as given.
    public var path: String
    /// Queries sorted by AP@10, then AP@100, worst first; ties in file order.
    public var queries: [InspectedQuery]
    /// mAP@10 of the whole file.
    public var meanAveragePrecision10: Double
    public init(path: String, queries: [InspectedQuery], meanAveragePrecision10: Double) {
        self.path = path; self.queries = queries; self.meanAveragePrecision10 = meanAveragePrecision10
    }

    /// Scores `rankings` (a ranking file's lines, in file order) with the official protocol and
    /// orders its queries worst first. Match rows are marked right or wrong by the gallery label
    /// the official script uses (the item's first label is one of the query's labels).
    public static func build(path: String, rankings: [Ranking], groundTruth: OfficialGroundTruth) throws -> InspectSession {
        let report = try OfficialMetrics.evaluate(rankings, groundTruth: groundTruth)
        var queries: [InspectedQuery] = []
        queries.reserveCapacity(rankings.count)
        for (ranking, score) in zip(rankings, report.lines) {
            let rows = resultRows(of: ranking, groundTruth: groundTruth)
            let failure = score.cutoffs.compactMap(\.failure).first.map { String(describing: $0) }
            queries.append(InspectedQuery(line: score.line, queryID: ranking.queryID,
                                          averagePrecision10: score.at(10)?.averagePrecision ?? 0,
                                          averagePrecision50: score.at(50)?.averagePrecision ?? 0,
                                          averagePrecision100: score.at(100)?.averagePrecision ?? 0,
                                          failure: failure, rows: rows))
        }
        queries.sort {
            ($0.averagePrecision10, $0.averagePrecision100, $0.line) < ($1.averagePrecision10, $1.averagePrecision100, $1.line)
        }
        return InspectSession(path: path, queries: queries, meanAveragePrecision10: report.results.at(10)?.mAP ?? 0)
    }
}

/// The inspect mode: a loaded ranking file and which of its queries is shown.
public struct InspectState: Sendable, Equatable {
    /// The file named with `--rankings`, if any.
    public var path: String? = nil
    public var session: InspectSession? = nil
    public var error: String? = nil
    /// Whether the results pane shows the file's rankings (else live searches).
    public var active = false
    /// Position in `session.queries` of the query shown.
    public var position = 0
    public init() {}
}

/// Flags of the shown query, and the session's undo stack.
public struct FlagsState: Sendable, Equatable {
    /// Who is annotating (`--annotator` or $USER).
    public var annotator: String = "unknown"
    /// Whether a store is open (flag keys do nothing useful without one).
    public var available = false
    /// Why there is no store, when there is none.
    public var unavailableReason: String? = nil
    /// Current verdicts on the shown query's matches, by match id (this model's).
    public var verdicts: [String: Verdict] = [:]
    /// The flags recorded this session with their store ids, newest last: what `u` undoes.
    public var undoStack: [Flag] = []
    /// Flags written but not yet acknowledged by the store.
    public var pending = 0
    public init() {}
}

/// Everything the retrieval side of the explorer keeps.
public struct RetrievalState: Sendable, Equatable {
    public var engine: EngineStatus = .unavailable("no retrieval engine configured")
    public var bar = QueryBarState()
    /// What a sample query uses: caption, image or pair.
    public var mode: QueryMode = .pair
    public var results = ResultsState()
    public var inspect = InspectState()
    public var flags = FlagsState()
    /// How many matches a search asks for.
    public var top = 100
    public init() {}
}

extension RetrievalQuery {
    /// The key flags use for this query: the sample's id, `caption:<text>` or `image:<path>`.
    public var flagKey: String {
        switch self {
        case .caption(let text): return "caption:" + text
        case .imageFile(let path): return "image:" + path
        case .sample(let id, _): return id
        }
    }

    /// The text a caption query carries, if it is one.
    public var captionText: String? {
        if case .caption(let t) = self { return t }
        return nil
    }
}

extension Dataset {
    /// The dataset's identity in the flags store: its name and root folder.
    public var flagKey: String { identityKey }
}
