package kroll.lab.kafka;

/**
 * The APIs the lab clients use and the (non-flexible) version ranges they implement. The version
 * actually sent is the highest one both this client and the broker (ApiVersions) support; every
 * range here is inside what Kafka 3.1 … 3.8 brokers serve.
 */
public enum ApiKeys {
    PRODUCE(0, 3, 8),
    LIST_OFFSETS(2, 1, 5),
    METADATA(3, 1, 8),
    OFFSET_COMMIT(8, 2, 7),
    OFFSET_FETCH(9, 1, 5),
    FIND_COORDINATOR(10, 0, 2),
    API_VERSIONS(18, 0, 0),
    CREATE_TOPICS(19, 2, 4);

    public final int id;
    public final int min;
    public final int max;

    ApiKeys(int id, int min, int max) {
        this.id = id;
        this.min = min;
        this.max = max;
    }
}
